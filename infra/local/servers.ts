// The PostgreSQL servers a local cluster can run on: this machine's PostgreSQL 15 (the embedded
// `local` stack's and the default test run's) and PostgreSQL 18 from a cached Debian testing root
// (debian-root.ts). One descriptor each: how to install it, where its programs are, how to run one
// as the server user with a cluster's folder reachable at its own path.

import { execFileSync } from "node:child_process";
import { ensureDebianRoot, clientBinDir, inRootArgv, removeMountPoint, ROOT_MAJOR, ROOT_PARTMAN_VERSIONS, ROOT_PG_BIN, rootDir, rootServerUserIds } from "./debian-root";
import { ensurePostgres, PARTMAN_VERSIONS, PG_BIN, PG_MAJOR } from "./install";
import { PartmanStackError } from "../config/errors";

export const SERVER_NAMES = ["host-15", "debian-testing-18"] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export interface PostgresServer {
  name: ServerName;
  major: number;
  /** The pg_partman releases installed for it. */
  partmanVersions: readonly string[];
  /** Installs what is missing; logs what takes time. */
  ensure(log: (line: string) => void): Promise<void>;
  /** initdb, pg_ctl, postgres: their folder as `command` runs them. */
  bin: string;
  /** pg_dump, pg_restore and psql of the server's major, run from the host with host paths. */
  clientBin(): string;
  /** The file and argv that run `cmd args` as the server user, with `dir` at its own path. */
  command(dir: string, cmd: string, args: string[]): [string, string[]];
  /** The server user's uid and gid, owner of a cluster's folder when running as root. */
  userIds(): [number, number];
  /** Removes what running clusters in `dir` left outside it, once `dir` is gone. */
  forget(dir: string): void;
}

/** The user every server runs as: the host's, or the root's own of that name. */
export const SERVER_USER = "postgres";
export const asRoot = () => process.getuid?.() === 0;

const HOST_15: PostgresServer = {
  name: "host-15",
  major: PG_MAJOR,
  partmanVersions: PARTMAN_VERSIONS,
  ensure: ensurePostgres,
  bin: PG_BIN,
  clientBin: () => PG_BIN,
  command: (_dir, cmd, args) => (asRoot() ? ["runuser", ["-u", SERVER_USER, "--", cmd, ...args]] : [cmd, args]),
  userIds() {
    const out = execFileSync("id", [SERVER_USER]).toString();
    const uid = /uid=(\d+)/.exec(out);
    const gid = /gid=(\d+)/.exec(out);
    if (!uid || !gid) throw new PartmanStackError(`cannot find the ${SERVER_USER} user (it comes with the postgresql-${PG_MAJOR} package)`);
    return [Number(uid[1]), Number(gid[1])];
  },
  forget: () => {},
};

const DEBIAN_TESTING_18: PostgresServer = {
  name: "debian-testing-18",
  major: ROOT_MAJOR,
  partmanVersions: ROOT_PARTMAN_VERSIONS,
  ensure: async (log) => {
    await ensureDebianRoot(log);
  },
  bin: ROOT_PG_BIN,
  clientBin: clientBinDir,
  command: (dir, cmd, args) => ["unshare", inRootArgv(rootDir(), [dir], SERVER_USER, cmd, args)],
  userIds: () => rootServerUserIds(),
  forget: (dir) => removeMountPoint(dir),
};

const SERVERS = [HOST_15, DEBIAN_TESTING_18];

export function postgresServer(name: ServerName = "host-15"): PostgresServer {
  const server = SERVERS.find((s) => s.name === name);
  if (!server) throw new PartmanStackError(`unknown PostgreSQL server ${name}`, `one of ${SERVER_NAMES.join(", ")}`);
  return server;
}

/** The server whose major made a data folder (its PG_VERSION). */
export function serverForMajor(major: number): PostgresServer {
  const server = SERVERS.find((s) => s.major === major);
  if (!server) throw new PartmanStackError(`no PostgreSQL ${major} server here (${SERVER_NAMES.join(", ")})`);
  return server;
}
