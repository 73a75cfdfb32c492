// A database of its own per test (or file) on the throwaway cluster, so tests run in parallel and
// leave nothing behind: drop() also unschedules the pg_cron jobs that run in it.

import crypto from "node:crypto";
import { Client, type QueryResultRow } from "pg";
import { inject } from "vitest";

/** The pg_partman releases the test cluster's server has (PostgreSQL 15: 4.7.2, 5.2.4, 5.5.0;
 *  18: 5.5.0); every engine test runs against each. */
export const PARTMAN_VERSIONS: string[] = [...inject("partmanVersions")];

/** The test cluster's server, for test names: "PostgreSQL 18.1". */
export const SERVER_LABEL: string = inject("serverLabel");

/** The test server's major: 15 or 18. */
export const SERVER_MAJOR = Number(/^PostgreSQL (\d+)/.exec(SERVER_LABEL)?.[1]);

/** A suite's title naming the server it runs against too. */
export const onServer = (title: string): string => `${title}, on ${SERVER_LABEL}`;

/** `wanted` when the server has it, else its newest pg_partman: for tests written against one
 *  release that hold on the others too. */
export const availablePartman = (wanted: string): string => (PARTMAN_VERSIONS.includes(wanted) ? wanted : PARTMAN_VERSIONS[PARTMAN_VERSIONS.length - 1]);

/** pg_dump, pg_restore and psql of the test server's major. */
export const PG_CLIENT_BIN: string = inject("pgBin");

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
