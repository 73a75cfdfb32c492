// Where a stack's database is: the embedded local cluster, an external server, or an explicit URL.
// Passwords never come from stack files: the URL, PGPASSWORD, or (under Pulumi) a secret.

import fs from "node:fs";
import path from "node:path";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import type { ClientConfig } from "pg";
import { parseIntoClientConfig } from "pg-connection-string";
import type { SslMode, StackSpec } from "../config/types";
import { SSL_MODES } from "../config/validate";
import { localClusterDir, startCluster } from "../local/cluster";
import { PartmanStackError } from "../config/errors";

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
      throw new PartmanStackError(
        `stack "${spec.stack}" uses database.mode docker: its container is provisioned by \`pulumi up -s ${spec.stack}\``,
        `pass its connection with --database-url (or ${DATABASE_URL_ENV})`,
        { join: "; " },
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
  /** Absolute path of the CA certificate(s) the server's is verified against; absent: none given. */
  sslRootCert?: string | null;
}

export function clientConfig(a: ServerAddress, password: string | undefined): ClientConfig {
  const rootCert = a.sslRootCert ? { file: a.sslRootCert, what: "the database's sslRootCert" } : null;
  return { host: a.host, port: a.port, database: a.database, user: a.user, password, ssl: sslFor(a.sslmode, rootCert) };
}

/** Client certificate and CA files a URL may name, as libpq's parameters. */
const URL_FILES = ["sslrootcert", "sslcert", "sslkey"] as const;

/** A URL's sslmode means what it means to libpq, as a stack file's does (sslFor): pg-connection-string
 *  2.x reads prefer, require and verify-ca as verify-full (and warns so), so those parameters are
 *  taken out and decided here. Its own ssl=…, sslmode=no-verify and URLs without TLS parameters
 *  are left to it, as before. Files are read now, relative to the working directory, as libpq
 *  does: one that cannot be read is an error naming the parameter, before any connection. */
export function parseDatabaseUrl(url: string): ClientConfig {
  const q = url.indexOf("?");
  const params = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  const mode = params.get("sslmode");
  const files = URL_FILES.filter((k) => params.has(k));
  // No sslmode with a certificate named: pg-connection-string verified the server fully.
  const declared = SSL_MODES.find((m) => m === mode) ?? (mode === null && files.length > 0 ? "verify-full" : null);
  if (!declared) return parseUrl(url);
  const file = (k: (typeof URL_FILES)[number]) => (params.get(k) ? { file: path.resolve(params.get(k)!), what: `${k}= in the database URL` } : null);
  const ssl = sslFor(declared, file("sslrootcert"));
  const cert = file("sslcert");
  const key = file("sslkey");
  if (ssl && cert) Object.assign(ssl, { cert: readFileFor(cert), sslcert: cert.file });
  if (ssl && key) Object.assign(ssl, { key: readFileFor(key), sslkey: key.file });
  for (const k of ["sslmode", ...URL_FILES]) params.delete(k);
  const rest = params.toString();
  return { ...parseUrl(`${q < 0 ? url : url.slice(0, q)}${rest ? `?${rest}` : ""}`), ssl };
}

function parseUrl(url: string): ClientConfig {
  try {
    return parseIntoClientConfig(url);
  } catch (err) {
    throw new PartmanStackError(`--database-url is not a PostgreSQL URL (postgres://user@host:port/database): ${(err as Error).message}`);
  }
}

/** node-postgres's TLS options, carrying libpq's parameters as node-postgres itself reads them off
 *  `ssl` for pg-native, so pg_dump and pg_restore connect as the session does (libpqSslEnv). */
export type Ssl = TlsOptions & { sslmode: SslMode; sslrootcert?: string; sslcert?: string; sslkey?: string };

/** A file a setting names, and how to name that setting in an error. */
export interface NamedFile {
  file: string;
  what: string;
}

/** libpq's sslmode as every client of partman-stack uses it (node-postgres here, pg_dump through
 *  libpqSslEnv, @pulumi/postgresql's provider), for a declared mode and root certificate:
 *  - prefer is require: node-postgres cannot fall back to plain text;
 *  - prefer and require encrypt without verifying the server, unless a root certificate is given:
 *    then its chain is verified, as verify-ca (libpq does the same);
 *  - verify-ca without a root certificate is verify-full: the chain is then verified against
 *    Node's public CAs, which sign certificates for anyone's names, so only the host name tells
 *    the server apart (libpq, without a root.crt, refuses the mode; this is what it did here before). */
export function libpqSslMode(mode: SslMode, rootCert: string | null): SslMode {
  switch (mode) {
    case "disable":
      return "disable";
    case "prefer":
    case "require":
      return rootCert ? "verify-ca" : "require";
    case "verify-ca":
      return rootCert ? "verify-ca" : "verify-full";
    case "verify-full":
      return "verify-full";
  }
}

/** The TLS options for libpq's modes: require encrypted and unverified, verify-ca the chain verified
 *  against the root certificate and the host name not checked, verify-full both. The root
 *  certificate is read now: a connection reads the file as it is when it is made. */
export function sslFor(mode: SslMode, rootCert: NamedFile | null): false | Ssl {
  const sslmode = libpqSslMode(mode, rootCert?.file ?? null);
  if (sslmode === "disable") return false;
  const root = rootCert ? { ca: readFileFor(rootCert, "-----BEGIN CERTIFICATE-----"), sslrootcert: rootCert.file } : {};
  switch (sslmode) {
    case "require":
      return { sslmode, rejectUnauthorized: false };
    case "verify-ca":
      return { sslmode, ...root, checkServerIdentity: () => undefined };
    default:
      return { sslmode, ...root };
  }
}

/** PGSSLMODE and PGSSLROOTCERT (and a client certificate) for libpq, from a session's `ssl`: what
 *  sslFor recorded on it, else (ssl=true, sslmode=no-verify, PGSSLMODE read by node-postgres) what
 *  node-postgres does with it. */
export function libpqSslEnv(ssl: ClientConfig["ssl"]): Record<string, string> {
  if (!ssl) return { PGSSLMODE: "disable" };
  if (typeof ssl === "object" && "sslmode" in ssl) {
    const s = ssl as Ssl;
    const env: Record<string, string> = { PGSSLMODE: s.sslmode };
    if (s.sslrootcert) env.PGSSLROOTCERT = s.sslrootcert;
    if (s.sslcert) env.PGSSLCERT = s.sslcert;
    if (s.sslkey) env.PGSSLKEY = s.sslkey;
    return env;
  }
  return { PGSSLMODE: typeof ssl === "object" && ssl.rejectUnauthorized === false ? "require" : "verify-full" };
}

function readFileFor(f: NamedFile, pem?: string): string {
  let text: string;
  try {
    text = fs.readFileSync(f.file, "utf8");
  } catch (err) {
    throw new PartmanStackError(`${f.what} ${f.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, `give the path of a readable PEM file`, { join: "): " });
  }
  if (pem && !text.includes(pem)) throw new PartmanStackError(`${f.what} ${f.file} holds no PEM certificate (${pem})`, `give the CA certificate that signed the server's`);
  return text;
}
