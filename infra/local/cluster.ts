// A PostgreSQL cluster in a folder of its own: the embedded `local` stack's database (see
// localClusterDir) and the tests' throwaway cluster, on this machine's PostgreSQL 15 or on
// PostgreSQL 18 from a Debian testing root (servers.ts). pg_cron preloaded, UTC, loopback only,
// a free port and the server recorded in cluster.json. As root, initdb and the server run as `postgres`.
// The superuser logs in with a password (scram-sha-256), kept in the folder's `password` file
// (0600, the file of the user running partman-stack): other local users reach the port too.

import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Client } from "pg";
import { quoteIdent } from "../config/identifiers";
import { timed } from "./install";
import { asRoot, postgresServer, SERVER_USER, serverForMajor, type PostgresServer, type ServerName } from "./servers";
import { PartmanStackError } from "../config/errors";

export interface ClusterInfo {
  dir: string;
  port: number;
  /** The database the cluster was started for. */
  database: string;
  /** cron.database_name: where pg_cron and its jobs live. */
  cronDatabase: string;
  /** The PostgreSQL it runs on. */
  server: ServerName;
  /** Carries the superuser's password: in this process only (cluster.json holds none). */
  url: string;
}

export interface StartOptions {
  database: string;
  /** Defaults to `database`: jobs then run where the tables are. */
  cronDatabase?: string;
  port?: number;
  /** Trades crash safety for speed (fsync off): for clusters whose data is thrown away. */
  throwaway?: boolean;
  /** The server's TimeZone; default UTC. partman-stack's sessions run in UTC whatever it is. */
  timezone?: string;
  /** Default host-15, this machine's PostgreSQL 15. */
  server?: ServerName;
  log?: (line: string) => void;
}


/** Chooses the `local` stack's cluster folder: absolute, or relative to the project root. */
export const LOCAL_DIR_ENV = "PARTMAN_STACK_LOCAL_DIR";
/** Where, as root, local clusters go when `postgres` cannot reach the clone. */
export const SYSTEM_CLUSTERS_DIR = "/var/lib/partman-stack";

/** The `local` stack's cluster folder for the project at `root`, for every caller (local
 *  start/stop/url/status, the stack's connection, the Pulumi program), in this order:
 *  1. $PARTMAN_STACK_LOCAL_DIR when set;
 *  2. <root>/.partman/local when it holds a cluster (as every cluster before /var/lib did);
 *  3. /var/lib/partman-stack/<project>-<hash of its path>/ when it holds a cluster, or when running
 *     as root and a folder above <root>/.partman/local is closed to other users (a clone in /root,
 *     mode 0700): the server runs as `postgres` and could not reach the clone;
 *  4. <root>/.partman/local.
 *  No state of its own: which folder holds a cluster decides, so every caller finds the same one. */
export function localClusterDir(root: string): string {
  root = path.resolve(root);
  const chosen = process.env[LOCAL_DIR_ENV];
  if (chosen) return path.resolve(root, chosen);
  const inClone = path.join(root, ".partman", "local");
  if (hasCluster(inClone)) return inClone;
  const system = path.join(SYSTEM_CLUSTERS_DIR, `${path.basename(root).replace(/[^\w.-]/g, "_")}-${pathHash(root)}`);
  if (hasCluster(system) || (asRoot() && !openToOthers(path.dirname(inClone)))) return system;
  return inClone;
}

function pathHash(dir: string): string {
  let real = dir;
  try {
    real = fs.realpathSync(dir);
  } catch {
    // Not created yet: its path as given.
  }
  return crypto.createHash("sha256").update(real).digest("hex").slice(0, 8);
}

/** Whether every existing folder from `dir` up lets other users through (o+x); the missing ones
 *  initdb creates with 0755. */
function openToOthers(dir: string): boolean {
  for (let p = dir; ; p = path.dirname(p)) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st && (st.mode & 0o001) === 0) return false;
    if (p === path.dirname(p)) return true;
  }
}

const dataDir = (dir: string) => path.join(dir, "data");
const infoFile = (dir: string) => path.join(dir, "cluster.json");
export const passwordFile = (dir: string) => path.join(dir, "password");
const hbaFile = (dir: string) => path.join(dataDir(dir), "pg_hba.conf");

/** Password on TCP, the only way in: the Unix socket is off (unix_socket_directories = ''). */
const PG_HBA = `# partman-stack: the superuser's password is in ../password; no trust, no Unix socket.
host all all 127.0.0.1/32 scram-sha-256
`;

/** Whether initdb has run in `dir`. */
export function hasCluster(dir: string): boolean {
  return fs.existsSync(path.join(dataDir(dir), "PG_VERSION"));
}

export function readCluster(dir: string): ClusterInfo | null {
  let saved: Omit<ClusterInfo, "url">;
  try {
    saved = JSON.parse(fs.readFileSync(infoFile(dir), "utf8")) as Omit<ClusterInfo, "url">;
  } catch {
    return null;
  }
  return { ...saved, server: saved.server ?? serverOf(dir).name, url: urlFor(saved.port, saved.database, readPassword(dir)) };
}

/** The server a cluster runs on: the one of its data folder's major (PG_VERSION); host-15 before initdb. */
export function serverOf(dir: string): PostgresServer {
  try {
    return serverForMajor(Number(fs.readFileSync(path.join(dataDir(dir), "PG_VERSION"), "utf8").trim()));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return postgresServer();
    throw err;
  }
}

/** The superuser's password; null: a cluster made before passwords (trust), until its next start
 *  upgrades it. */
export function readPassword(dir: string): string | null {
  try {
    return fs.readFileSync(passwordFile(dir), "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new PartmanStackError(`cannot read the local cluster's password (${(err as Error).message})`, `it is the file of the user who created the cluster, run partman-stack as that user`);
  }
}

/** The superuser's password, made once: at initdb, or when a cluster made before passwords is
 *  upgraded. Only partman-stack reads the file: the server keeps the SCRAM verifier. */
function clusterPassword(dir: string): string {
  const existing = readPassword(dir);
  if (existing) return existing;
  const password = crypto.randomBytes(24).toString("base64url");
  fs.writeFileSync(passwordFile(dir), `${password}\n`, { mode: 0o600, flag: "wx" });
  return password;
}

/** Idempotent: installs, initialises, starts and creates the database and pg_cron as needed. */
export async function startCluster(dir: string, opts: StartOptions): Promise<ClusterInfo> {
  const log = opts.log ?? (() => {});
  const server = postgresServer(opts.server);
  await server.ensure(log);
  const cronDatabase = opts.cronDatabase ?? opts.database;
  dir = path.resolve(dir);
  const previous = readCluster(dir);
  if (previous && previous.cronDatabase !== cronDatabase) {
    throw new PartmanStackError(`the cluster in ${dir} keeps pg_cron in database ${previous.cronDatabase}, not ${cronDatabase}`, `remove ${dir} to start afresh`, { join: "; " });
  }
  if (hasCluster(dir) && serverOf(dir) !== server) {
    throw new PartmanStackError(`the cluster in ${dir} is PostgreSQL ${serverOf(dir).major} (${serverOf(dir).name}), not ${server.major} (${server.name})`, `remove ${dir} to start afresh`, { join: "; " });
  }
  if (!hasCluster(dir)) {
    await timed(log, `initialising a PostgreSQL ${server.major} cluster in ${dir}`, async () => initdb(server, dir, cronDatabase, opts.throwaway ?? false, opts.timezone ?? "UTC"));
  }
  const password = clusterPassword(dir);
  let info: ClusterInfo;
  if (isRunning(dir) && previous) {
    info = { ...previous, database: opts.database };
  } else {
    const port = opts.port ?? (previous && (await portFree(previous.port)) ? previous.port : await freePort());
    await timed(log, `starting PostgreSQL ${server.major} on 127.0.0.1:${port}`, async () =>
      pgCtl(server, dir, ["start", "-w", "-t", "60", "-l", path.join(dir, "postgres.log"), "-o", `-p ${port}`]),
    );
    info = { dir, port, database: opts.database, cronDatabase, server: server.name, url: "" };
  }
  if (trusts(dir)) await timed(log, `setting a password on the local cluster in ${dir} (it trusted every local user)`, async () => requirePassword(dir, info.port, password));
  info.url = urlFor(info.port, opts.database, password);
  await prepareDatabases(info, password);
  const { url: _withPassword, ...saved } = info;
  fs.writeFileSync(infoFile(dir), JSON.stringify(saved, null, 2) + "\n");
  return info;
}

/** Whether pg_hba.conf still lets anyone in without a password, as initdb --auth=trust made every
 *  cluster before passwords. */
function trusts(dir: string): boolean {
  return fs.readFileSync(hbaFile(dir), "utf8").split("\n").some((line) => /^\s*[^#\s].*\strust\s*$/.test(line));
}

/** Upgrades a running cluster made with trust, keeping its data: the password (sent as its SCRAM
 *  verifier, as psql's \password does, so the password itself is in no statement or log),
 *  pg_hba.conf, a reload. */
async function requirePassword(dir: string, port: number, password: string): Promise<void> {
  // Still trust: the password is not asked for yet.
  const admin = superuser(port, password, "postgres");
  await admin.connect();
  try {
    await admin.query(`ALTER ROLE ${SERVER_USER} PASSWORD '${scramVerifier(password)}'`);
    fs.writeFileSync(hbaFile(dir), PG_HBA);
    await admin.query("SELECT pg_reload_conf()");
  } finally {
    await admin.end();
  }
}

/** RFC 5803's SCRAM-SHA-256 verifier, as the server stores it (4096 iterations, its default). */
function scramVerifier(password: string): string {
  const salt = crypto.randomBytes(16);
  const salted = crypto.pbkdf2Sync(password, salt, 4096, 32, "sha256");
  const hmac = (text: string) => crypto.createHmac("sha256", salted).update(text).digest();
  const stored = crypto.createHash("sha256").update(hmac("Client Key")).digest();
  return `SCRAM-SHA-256$4096:${salt.toString("base64")}$${stored.toString("base64")}:${hmac("Server Key").toString("base64")}`;
}

export async function stopCluster(dir: string): Promise<void> {
  if (isRunning(dir)) pgCtl(serverOf(dir), dir, ["stop", "-w", "-m", "fast"]);
}

export async function destroyCluster(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const server = serverOf(dir);
  await stopCluster(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  server.forget(path.resolve(dir));
}

export function isRunning(dir: string): boolean {
  if (!hasCluster(dir)) return false;
  try {
    pgCtl(serverOf(dir), dir, ["status"]);
    return true;
  } catch {
    return false;
  }
}

function urlFor(port: number, database: string, password: string | null): string {
  return `postgres://${SERVER_USER}${password ? `:${encodeURIComponent(password)}` : ""}@127.0.0.1:${port}/${database}`;
}

function initdb(server: PostgresServer, dir: string, cronDatabase: string, throwaway: boolean, timezone: string): void {
  const first = fs.mkdirSync(dir, { recursive: true });
  if (asRoot()) {
    // The folders made on the way (.partman, /var/lib/partman-stack) let the server user through whatever the umask.
    for (let p = path.dirname(dir); first && p.length >= first.length; p = path.dirname(p)) fs.chmodSync(p, 0o755);
    fs.chownSync(dir, ...server.userIds());
    try {
      asServerUser(server, dir, "test", ["-w", dir]);
    } catch {
      throw new PartmanStackError(
        `the ${SERVER_USER} user cannot write to ${dir}: a folder above it is closed to other users`,
        `open it (chmod o+x) or choose a folder ${SERVER_USER} can reach (for the local stack: ${LOCAL_DIR_ENV}=<folder>)`,
        { join: "; " },
      );
    }
  }
  // initdb reads the password as the server user: from a copy of its own, removed once read.
  const pwfile = path.join(dir, "initdb-password");
  fs.rmSync(pwfile, { force: true });
  fs.writeFileSync(pwfile, clusterPassword(dir), { mode: 0o600, flag: "wx" });
  try {
    if (asRoot()) fs.chownSync(pwfile, ...server.userIds());
    asServerUser(server, dir, path.join(server.bin, "initdb"), ["-D", dataDir(dir), "-U", SERVER_USER, "--auth=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8", "--locale=C.UTF-8"]);
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  fs.writeFileSync(hbaFile(dir), PG_HBA);
  // Loopback only, with a password: other local users reach 127.0.0.1 too.
  const settings = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: "''",
    shared_preload_libraries: "'pg_cron'",
    "cron.database_name": `'${cronDatabase}'`,
    "cron.use_background_workers": "on",
    max_worker_processes: "20",
    timezone: `'${timezone}'`,
    log_timezone: "'UTC'",
    ...(throwaway ? { fsync: "off", synchronous_commit: "off" } : {}),
  };
  fs.appendFileSync(
    path.join(dataDir(dir), "postgresql.conf"),
    `\n# partman-stack\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join("\n")}\n`,
  );
}

function superuser(port: number, password: string, database: string): Client {
  return new Client({ host: "127.0.0.1", port, user: SERVER_USER, password, database });
}

async function prepareDatabases(info: ClusterInfo, password: string): Promise<void> {
  const admin = superuser(info.port, password, "postgres");
  await admin.connect();
  try {
    for (const db of new Set([info.database, info.cronDatabase])) {
      const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [db]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${quoteIdent(db)}`);
    }
  } finally {
    await admin.end();
  }
  const cron = superuser(info.port, password, info.cronDatabase);
  await cron.connect();
  try {
    await cron.query("CREATE EXTENSION IF NOT EXISTS pg_cron");
  } finally {
    await cron.end();
  }
}

function pgCtl(server: PostgresServer, dir: string, args: string[]): void {
  asServerUser(server, dir, path.join(server.bin, "pg_ctl"), ["-D", dataDir(dir), ...args]);
}

function asServerUser(server: PostgresServer, dir: string, cmd: string, args: string[]): void {
  const [file, argv] = server.command(path.resolve(dir), cmd, args);
  try {
    execFileSync(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new PartmanStackError(`${path.basename(cmd)} ${args[0] === "-D" ? args[2] ?? "" : args[0]} failed: ${(e.stderr?.toString() || e.stdout?.toString() || e.message).trim()}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
