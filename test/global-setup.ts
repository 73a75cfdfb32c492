// One throwaway PostgreSQL 15 cluster for the whole run: installed if missing, initialised in a
// temporary folder on a free port with pg_cron preloaded (jobs in the `postgres` database), and
// removed afterwards. Test files create their own databases on it (test/helpers/database.ts).
// Alongside it, one tsc build of the project for the tests that need plain `node` on compiled code.

import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { destroyCluster, startCluster } from "../infra/local/cluster";

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
    const cluster = await startCluster(dir, {
      database: "postgres",
      cronDatabase: "postgres",
      throwaway: true,
      log: (line) => process.stderr.write(`[test cluster] ${line}\n`),
    });
    project.provide("pgUrl", cluster.url);
  } catch (err) {
    await teardown();
    throw err;
  }
  project.provide("buildDir", buildDir);
  project.provide("buildError", await built);
  return teardown;
}
