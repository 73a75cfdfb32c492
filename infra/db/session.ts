// The one way every front end (CLI, Pulumi providers, migrate, archive) talks to a stack's
// database: connections to the target database and to the database pg_cron lives in
// (cron.database_name), all in UTC, all acting as the stack's owner role when it exists, so what
// any of them creates (tables, partitions, the cron job) belongs to the same role.

import { Client, type ClientConfig } from "pg";
import { quoteIdent } from "../config/identifiers";
import { PartmanStackError } from "../config/errors";

export interface Session {
  /** The database whose tables are managed. */
  target: Client;
  /** Name of the target database. */
  database: string;
  /** The role the session acts as: the stack's owner role when it exists, else the user it connected as. */
  role: string;
  /** A connection to `database` on the same server (the target itself when it is the same one). */
  on(database: string): Promise<Client>;
  /** A new connection to the target database, set up as the target is (acting as `role`), for work
   *  that must hold a transaction open beside the target's (a fence); the caller ends it. */
  connect(purpose?: string): Promise<Client>;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** The stack's owner role: acted as (SET ROLE) when it exists. null: act as the connecting user. */
  owner: string | null;
  /** What the session is for, shown in pg_stat_activity.application_name: a waiting apply names the
   *  session it waits for by it. */
  purpose?: string;
}

/** The search_path of partman-stack's own statements (SESSION_SETTINGS). */
export const SAFE_SEARCH_PATH = "pg_catalog, pg_temp";

/** Fixed whatever the server, database or role sets (a client's startup options override those):
 *  pg_partman lays boundaries out in the session's TimeZone; node-postgres parses intervals in the
 *  postgres IntervalStyle; every name and operator partman-stack's own statements use resolves in
 *  pg_catalog, never in a schema another role could create a closer match in (pg_partman's and
 *  partman-stack's objects are named with their schema); and quoteLiteral's quoting is what the
 *  server reads. */
const SESSION_SETTINGS = `-c TimeZone=UTC -c IntervalStyle=postgres -c search_path=${SAFE_SEARCH_PATH.replace(" ", "")} -c standard_conforming_strings=on`;
/** The search_path for SQL a user wrote (a table's DDL file, a hot query), set for just that SQL:
 *  an unqualified name is looked for in the table's own schema, after pg_catalog, which wins a tie
 *  with anything created there. */
export function userSqlSearchPath(schema: string): string {
  return `pg_catalog, ${quoteIdent(schema)}, pg_temp`;
}

/** NAMEDATALEN - 1: the server truncates a longer application_name. */
const APPLICATION_NAME_BYTES = 63;

/** "partman-stack <purpose>", cut to what the server keeps (a whole character at most). */
export function applicationName(purpose: string | null): string {
  return Buffer.from(`partman-stack${purpose ? ` ${purpose}` : ""}`).subarray(0, APPLICATION_NAME_BYTES).toString().replace(/\uFFFD$/, "");
}

async function connect(config: ClientConfig, purpose: string | undefined): Promise<Client> {
  const client = new Client({
    ...config,
    options: [config.options, SESSION_SETTINGS].filter(Boolean).join(" "),
    application_name: applicationName(purpose ?? null),
  });
  try {
    await client.connect();
  } catch (err) {
    const where = `${config.host ?? "localhost"}:${config.port ?? 5432}/${config.database ?? ""}`;
    throw new PartmanStackError(`cannot connect to PostgreSQL at ${where}: ${(err as Error).message}`);
  }
  return client;
}

/** The owner role if it exists and the connecting user may act as it; null if it does not exist. */
async function ownerToActAs(client: Client, owner: string | null): Promise<string | null> {
  if (!owner) return null;
  const r = (
    await client.query<{ exists: boolean; member: boolean; user: string }>(
      `SELECT r.oid IS NOT NULL AS exists, coalesce(pg_has_role(session_user, r.oid, 'MEMBER'), false) AS member, session_user AS user
         FROM (SELECT 1) x LEFT JOIN pg_roles r ON r.rolname = $1`,
      [owner],
    )
  ).rows[0];
  if (!r.exists) return null;
  if (!r.member) {
    throw new PartmanStackError(
      `role ${owner} (the stack's owner role) exists, so partman-stack acts as it, but ${r.user} is not a member of it`,
      `GRANT ${quoteIdent(owner)} TO ${quoteIdent(r.user)} (the Pulumi program's admin-acts-as-owner GrantRole does), or name another role in partman-stack:roles.owner`,
    );
  }
  return owner;
}

export async function openSession(config: ClientConfig, opts: SessionOptions): Promise<Session> {
  const target = await connect(config, opts.purpose);
  let role: string | null;
  try {
    role = await ownerToActAs(target, opts.owner);
    if (role) await target.query(`SET ROLE ${quoteIdent(role)}`);
  } catch (err) {
    await target.end();
    throw err;
  }
  const who = (await target.query<{ db: string; role: string }>("SELECT current_database() AS db, current_user AS role")).rows[0];
  const others = new Map<string, Client>();
  const actingOn = async (database: string, purpose: string | undefined) => {
    const c = await connect({ ...config, database }, purpose);
    if (role) await c.query(`SET ROLE ${quoteIdent(role)}`);
    return c;
  };
  return {
    target,
    database: who.db,
    role: who.role,
    async on(name: string) {
      if (name === who.db) return target;
      let c = others.get(name);
      if (!c) {
        c = await actingOn(name, opts.purpose);
        others.set(name, c);
      }
      return c;
    },
    connect: (purpose) => actingOn(who.db, purpose ?? opts.purpose),
    async close() {
      await Promise.allSettled([target.end(), ...[...others.values()].map((c) => c.end())]);
    },
  };
}

export async function withSession<T>(config: ClientConfig, opts: SessionOptions, fn: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession(config, opts);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
