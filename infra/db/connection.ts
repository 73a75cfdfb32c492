// Where a stack's database is: the embedded local cluster, an external server, or an explicit URL.
// Passwords never come from stack files: the URL, PGPASSWORD, or (under Pulumi) a secret.

import type { ClientConfig } from "pg";
import { parseIntoClientConfig } from "pg-connection-string";
import type { SslMode, StackSpec } from "../config/types";
import { localClusterDir, startCluster } from "../local/cluster";

export interface ConnectionOptions {
  /** Overrides the stack's connection (for CI and operations). */
  databaseUrl?: string;
  log?: (line: string) => void;
}

export const DATABASE_URL_ENV = "PARTMAN_STACK_DATABASE_URL";

export async function resolveConnection(spec: StackSpec, opts: ConnectionOptions = {}): Promise<ClientConfig> {
  const url = opts.databaseUrl ?? process.env[DATABASE_URL_ENV];
  if (url) return parseDatabaseUrl(url);
  const db = spec.database;
  switch (db.mode) {
    case "local": {
      // Idempotent: installs what is missing, initialises and starts the cluster as needed.
      const cluster = await startCluster(localClusterDir(spec.root), { database: db.database, log: opts.log });
      return parseDatabaseUrl(cluster.url);
    }
    case "docker":
      throw new Error(
        `stack "${spec.stack}" uses database.mode docker: its container is provisioned by \`pulumi up -s ${spec.stack}\`; ` +
          `pass its connection with --database-url (or ${DATABASE_URL_ENV})`,
      );
    case "external":
      return clientConfig(db, process.env.PGPASSWORD);
  }
}

export interface ServerAddress {
  host: string;
  port: number;
  database: string;
  user: string;
  sslmode: SslMode;
}

export function clientConfig(a: ServerAddress, password: string | undefined): ClientConfig {
  return { host: a.host, port: a.port, database: a.database, user: a.user, password, ssl: sslFor(a.sslmode) };
}

export function parseDatabaseUrl(url: string): ClientConfig {
  try {
    return parseIntoClientConfig(url);
  } catch (err) {
    throw new Error(`--database-url is not a PostgreSQL URL (postgres://user@host:port/database): ${(err as Error).message}`);
  }
}

/** node-postgres cannot fall back to plain text, so "prefer" asks for TLS as "require" does. */
function sslFor(mode: SslMode): ClientConfig["ssl"] {
  switch (mode) {
    case "disable":
      return false;
    case "prefer":
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
    case "verify-full":
      return { rejectUnauthorized: true };
  }
}
