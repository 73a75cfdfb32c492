// A PostgreSQL 15 cluster in a folder of its own: the embedded `local` stack's database (see
// localClusterDir) and the tests' throwaway cluster. pg_cron preloaded, UTC, loopback only,
// a free port recorded in cluster.json. As root, initdb and the server run as `postgres`.

import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Client } from "pg";
import { quoteIdent } from "../config/identifiers";
import { ensurePostgres, PG_BIN, timed } from "./install";

export interface ClusterInfo {
  dir: string;
  port: number;
  /** The database the cluster was started for. */
  database: string;
  /** cron.database_name: where pg_cron and its jobs live. */
  cronDatabase: string;
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
  log?: (line: string) => void;
}

const SERVER_USER = "postgres";

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

/** Whether initdb has run in `dir`. */
export function hasCluster(dir: string): boolean {
  return fs.existsSync(path.join(dataDir(dir), "PG_VERSION"));
}

export function readCluster(dir: string): ClusterInfo | null {
  try {
    return JSON.parse(fs.readFileSync(infoFile(dir), "utf8")) as ClusterInfo;
  } catch {
    return null;
  }
}

/** Idempotent: installs, initialises, starts and creates the database and pg_cron as needed. */
export async function startCluster(dir: string, opts: StartOptions): Promise<ClusterInfo> {
  const log = opts.log ?? (() => {});
  await ensurePostgres(log);
  const cronDatabase = opts.cronDatabase ?? opts.database;
  dir = path.resolve(dir);
  const previous = readCluster(dir);
  if (previous && previous.cronDatabase !== cronDatabase) {
    throw new Error(`the cluster in ${dir} keeps pg_cron in database ${previous.cronDatabase}, not ${cronDatabase}; remove ${dir} to start afresh`);
  }
  if (!hasCluster(dir)) {
    await timed(log, `initialising a PostgreSQL cluster in ${dir}`, async () => initdb(dir, cronDatabase, opts.throwaway ?? false, opts.timezone ?? "UTC"));
  }
  let info: ClusterInfo;
  if (isRunning(dir) && previous) {
    info = { ...previous, database: opts.database };
  } else {
    const port = opts.port ?? (previous && (await portFree(previous.port)) ? previous.port : await freePort());
    await timed(log, `starting PostgreSQL ${path.basename(PG_BIN.replace(/\/bin$/, ""))} on 127.0.0.1:${port}`, async () =>
      pgCtl(dir, ["start", "-w", "-t", "60", "-l", path.join(dir, "postgres.log"), "-o", `-p ${port}`]),
    );
    info = { dir, port, database: opts.database, cronDatabase, url: "" };
  }
  info.url = urlFor(info.port, opts.database);
  await prepareDatabases(info);
  fs.writeFileSync(infoFile(dir), JSON.stringify(info, null, 2) + "\n");
  return info;
}

export async function stopCluster(dir: string): Promise<void> {
  if (isRunning(dir)) pgCtl(dir, ["stop", "-w", "-m", "fast"]);
}

export async function destroyCluster(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  await stopCluster(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

export function isRunning(dir: string): boolean {
  if (!hasCluster(dir)) return false;
  try {
    pgCtl(dir, ["status"]);
    return true;
  } catch {
    return false;
  }
}

function urlFor(port: number, database: string): string {
  return `postgres://${SERVER_USER}@127.0.0.1:${port}/${database}`;
}

function initdb(dir: string, cronDatabase: string, throwaway: boolean, timezone: string): void {
  const first = fs.mkdirSync(dir, { recursive: true });
  if (asRoot()) {
    // The folders made on the way (.partman, /var/lib/partman-stack) let the server user through whatever the umask.
    for (let p = path.dirname(dir); first && p.length >= first.length; p = path.dirname(p)) fs.chmodSync(p, 0o755);
    fs.chownSync(dir, ...postgresIds());
    try {
      execFileSync("runuser", ["-u", SERVER_USER, "--", "test", "-w", dir]);
    } catch {
      throw new Error(
        `the ${SERVER_USER} user cannot write to ${dir}: a folder above it is closed to other users; open it (chmod o+x) or choose a folder ${SERVER_USER} can reach (for the local stack: ${LOCAL_DIR_ENV}=<folder>)`,
      );
    }
  }
  asServerUser(path.join(PG_BIN, "initdb"), ["-D", dataDir(dir), "-U", SERVER_USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
  // Loopback and trust only: this is a developer's or a test's private cluster.
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

async function prepareDatabases(info: ClusterInfo): Promise<void> {
  const admin = new Client({ host: "127.0.0.1", port: info.port, user: SERVER_USER, database: "postgres" });
  await admin.connect();
  try {
    for (const db of new Set([info.database, info.cronDatabase])) {
      const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [db]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${quoteIdent(db)}`);
    }
  } finally {
    await admin.end();
  }
  const cron = new Client({ host: "127.0.0.1", port: info.port, user: SERVER_USER, database: info.cronDatabase });
  await cron.connect();
  try {
    await cron.query("CREATE EXTENSION IF NOT EXISTS pg_cron");
  } finally {
    await cron.end();
  }
}

function pgCtl(dir: string, args: string[]): void {
  asServerUser(path.join(PG_BIN, "pg_ctl"), ["-D", dataDir(dir), ...args]);
}

function asServerUser(cmd: string, args: string[]): void {
  const [file, argv] = asRoot() ? ["runuser", ["-u", SERVER_USER, "--", cmd, ...args]] : [cmd, args];
  try {
    execFileSync(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(`${path.basename(cmd)} ${args[0] === "-D" ? args[2] ?? "" : args[0]} failed: ${(e.stderr?.toString() || e.stdout?.toString() || e.message).trim()}`);
  }
}

function asRoot(): boolean {
  return process.getuid?.() === 0;
}

function postgresIds(): [number, number] {
  const out = execFileSync("id", [SERVER_USER]).toString();
  const uid = /uid=(\d+)/.exec(out);
  const gid = /gid=(\d+)/.exec(out);
  if (!uid || !gid) throw new Error(`cannot find the ${SERVER_USER} user (it comes with the postgresql-15 package)`);
  return [Number(uid[1]), Number(gid[1])];
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
