// One throwaway PostgreSQL cluster for the whole run: installed if missing, initialised in a
// temporary folder on a free port with pg_cron preloaded (jobs in the `postgres` database), and
// removed afterwards. Test files create their own databases on it (test/helpers/database.ts).
// This machine's PostgreSQL 15 by default; PARTMAN_STACK_TEST_POSTGRES=18: PostgreSQL 18 from the
// cached Debian testing root (infra/local/debian-root.ts), with pg_partman 5.5.0 only.
// Alongside it, one tsc build of the project for the tests that need plain `node` on compiled code.

import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { Client } from "pg";
import { destroyCluster, startCluster } from "../infra/local/cluster";
import { postgresServer, type ServerName } from "../infra/local/servers";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the throwaway cluster's `postgres` database. */
    pgUrl: string;
    /** The project compiled by tsc, itself a Pulumi project: Pulumi.yaml, package.json, sql/, an
     *  empty stacks/, the program at infra/program/index.js, the CLI at infra/cli/bin.js. Inside the repo, so its requires resolve from the
     *  repo's node_modules. Use through test/helpers/build.ts. */
    buildDir: string;
    /** tsc's errors when the build failed. */
    buildError: string | null;
    /** The pg_partman releases the cluster's server has, oldest first: what tests loop over. */
    partmanVersions: string[];
    /** The server's version, for test names: "PostgreSQL 18.1". */
    serverLabel: string;
    /** Its pg_dump, pg_restore and psql (of its major). */
    pgBin: string;
    /** PARTMAN_STACK_PG_BIN for the tests' processes: the client tools, unless the host's serve. */
    pgBinEnv: string | null;
  }
}

/** Chooses the tests' server: unset or 15, this machine's PostgreSQL 15; 18, the Debian testing root's. */
export const TEST_POSTGRES_ENV = "PARTMAN_STACK_TEST_POSTGRES";
const TEST_SERVERS: Record<string, ServerName> = { "": "host-15", "15": "host-15", "18": "debian-testing-18" };

function testServer(): ServerName {
  const chosen = process.env[TEST_POSTGRES_ENV] ?? "";
  const server = TEST_SERVERS[chosen];
  if (!server) throw new Error(`${TEST_POSTGRES_ENV}=${chosen}: expected 15 or 18 (or unset)`);
  return server;
}

async function serverVersion(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v.split(" ")[0];
  } finally {
    await c.end();
  }
}

const ROOT = path.resolve(__dirname, "..");

function build(dir: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(path.join(ROOT, "node_modules/.bin/tsc"), ["-p", "tsconfig.json", "--noEmit", "false", "--outDir", dir], { cwd: ROOT }, (err, stdout, stderr) => {
      if (err) return resolve(`${err.message}\n${stdout}${stderr}`);
      for (const file of ["Pulumi.yaml", "package.json"]) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
      fs.cpSync(path.join(ROOT, "sql"), path.join(dir, "sql"), { recursive: true });
      fs.mkdirSync(path.join(dir, "stacks"));
      resolve(null);
    });
  });
}

export default async function setup(project: TestProject) {
  const buildDir = path.join(ROOT, ".partman", `build-${crypto.randomBytes(4).toString("hex")}`);
  const built = build(buildDir);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-test-"));
  // The server runs as `postgres` when the tests run as root: it must reach the folder.
  fs.chmodSync(dir, 0o755);
  const teardown = async () => {
    await built;
    fs.rmSync(buildDir, { recursive: true, force: true });
    await destroyCluster(dir);
  };
  try {
    const server = postgresServer(testServer());
    const cluster = await startCluster(dir, {
      database: "postgres",
      cronDatabase: "postgres",
      throwaway: true,
      server: server.name,
      log: (line) => process.stderr.write(`[test cluster] ${line}\n`),
    });
    project.provide("pgUrl", cluster.url);
    project.provide("partmanVersions", [...server.partmanVersions]);
    project.provide("serverLabel", `PostgreSQL ${await serverVersion(cluster.url)}`);
    project.provide("pgBin", server.clientBin());
    project.provide("pgBinEnv", server.name === "host-15" ? null : server.clientBin());
  } catch (err) {
    await teardown();
    throw err;
  }
  project.provide("buildDir", buildDir);
  project.provide("buildError", await built);
  return teardown;
}
