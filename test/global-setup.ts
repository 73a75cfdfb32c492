// One throwaway PostgreSQL 15 cluster for the whole run: installed if missing, initialised in a
// temporary folder on a free port with pg_cron preloaded (jobs in the `postgres` database), and
// removed afterwards. Test files create their own databases on it (test/helpers/database.ts).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { destroyCluster, startCluster } from "../infra/local/cluster";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the throwaway cluster's `postgres` database. */
    pgUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-test-"));
  // The server runs as `postgres` when the tests run as root: it must reach the folder.
  fs.chmodSync(dir, 0o755);
  try {
    const cluster = await startCluster(dir, {
      database: "postgres",
      cronDatabase: "postgres",
      throwaway: true,
      log: (line) => process.stderr.write(`[test cluster] ${line}\n`),
    });
    project.provide("pgUrl", cluster.url);
  } catch (err) {
    await destroyCluster(dir);
    throw err;
  }
  return async () => {
    await destroyCluster(dir);
  };
}
