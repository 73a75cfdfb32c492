// A database of its own per test (or file) on the throwaway cluster, so tests run in parallel and
// leave nothing behind: drop() also unschedules the pg_cron jobs that run in it.

import crypto from "node:crypto";
import { Client, type QueryResultRow } from "pg";
import { inject } from "vitest";
import { PARTMAN_VERSIONS as INSTALLED } from "../../infra/local/install";

/** Both pg_partman majors the project supports; every engine test runs against each. */
export const PARTMAN_VERSIONS: string[] = [...INSTALLED];

export interface TestDatabase {
  name: string;
  url: string;
  /** A new connection to the cluster's `postgres` database; the caller ends it. */
  admin(): Promise<Client>;
  drop(): Promise<void>;
}

/** The test cluster's superuser password. The roles tests log in as are given it too, so
 *  PGPASSWORD (test/setup.ts) serves every login, as against any server that asks for one. */
export function clusterPassword(): string {
  return decodeURIComponent(new URL(inject("pgUrl")).password);
}

export async function createTestDatabase(opts: { partman: string | null }): Promise<TestDatabase> {
  const base = inject("pgUrl");
  const name = `t_${crypto.randomBytes(5).toString("hex")}`;
  const url = base.replace(/\/[^/]*$/, `/${name}`);
  const admin = async () => {
    const c = new Client({ connectionString: base });
    await c.connect();
    return c;
  };
  const a = await admin();
  try {
    await a.query(`CREATE DATABASE ${name}`);
  } finally {
    await a.end();
  }
  if (opts.partman) {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${opts.partman}'`);
    } finally {
      await c.end();
    }
  }
  return {
    name,
    url,
    admin,
    async drop() {
      const c = await admin();
      try {
        // The stacks' pg_cron jobs (cron.database_name is the cluster's `postgres`) go with their database.
        await c.query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [name]);
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** The rows of one statement, on a connection of its own to `url`. */
export async function queryRows(url: string, sql: string): Promise<QueryResultRow[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}
