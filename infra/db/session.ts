// Connections the engine works through: the target database, and the database pg_cron lives in
// (cron.database_name), which may be another database on the same server.

import { Client, type ClientConfig } from "pg";
import { quoteIdent } from "../config/identifiers";

export interface Session {
  /** The database whose tables are managed. */
  target: Client;
  /** Name of the target database. */
  database: string;
  /** A connection to `database` on the same server (the target itself when it is the same one). */
  on(database: string): Promise<Client>;
  close(): Promise<void>;
}

/** Every connection runs in UTC: pg_partman computes child boundaries in the session's TimeZone. */
export async function connectClient(config: ClientConfig): Promise<Client> {
  const client = new Client({
    ...config,
    options: [config.options, "-c TimeZone=UTC"].filter(Boolean).join(" "),
    application_name: config.application_name ?? "partman-stack",
  });
  try {
    await client.connect();
  } catch (err) {
    const where = `${config.host ?? "localhost"}:${config.port ?? 5432}/${config.database ?? ""}`;
    throw new Error(`cannot connect to PostgreSQL at ${where}: ${(err as Error).message}`);
  }
  return client;
}

export interface SessionOptions {
  /** SET ROLE on every connection, so what the session creates (tables, partitions, cron jobs)
   *  belongs to that role, e.g. the stack's owner role, not the admin who connects. */
  role?: string | null;
}

export async function openSession(config: ClientConfig, opts: SessionOptions = {}): Promise<Session> {
  const connect = async (c: ClientConfig) => {
    const client = await connectClient(c);
    if (opts.role) {
      try {
        await client.query(`SET ROLE ${quoteIdent(opts.role)}`);
      } catch (err) {
        await client.end();
        throw new Error(`cannot act as role ${opts.role} (SET ROLE failed: ${(err as Error).message}); grant it to ${c.user ?? "the connecting user"}`);
      }
    }
    return client;
  };
  const target = await connect(config);
  const database = (await target.query<{ db: string }>("SELECT current_database() AS db")).rows[0].db;
  const others = new Map<string, Client>();
  return {
    target,
    database,
    async on(name: string) {
      if (name === database) return target;
      let c = others.get(name);
      if (!c) {
        c = await connect({ ...config, database: name });
        others.set(name, c);
      }
      return c;
    },
    async close() {
      await Promise.allSettled([target.end(), ...[...others.values()].map((c) => c.end())]);
    },
  };
}
