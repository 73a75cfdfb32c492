// The benchmark's data: an events table as the project ships it (sql/tables/events.sql),
// partitioned by pg_partman, and an identical unpartitioned one (same columns, primary key and
// indexes) holding the same rows.

import fs from "node:fs";
import path from "node:path";
import type { Client } from "pg";

const DDL = fs.readFileSync(path.join(__dirname, "../../sql/tables/events.sql"), "utf8");

/** sql/tables/events.sql for another table name, partitioned or not; index names are left to
 *  PostgreSQL so several copies can live side by side. */
export function eventsDdl(table: string, partitioned: boolean): string {
  const sql = DDL.replace(/public\.events\b/g, table).replace(/CREATE INDEX \w+ ON/g, "CREATE INDEX ON");
  return partitioned ? sql : sql.replace(/\) PARTITION BY RANGE \(created_at\);/, ");");
}

/** Runs of the agent/workflow log: each run has many events, which the hot query fetches. */
export const RUNS = 20_000;
/** The uuid of run number `expr` (SQL), the same in data and queries. */
export const runIdSql = (expr: string) => `md5((${expr})::text)::uuid`;

export async function createPair(db: Client, opts: { rows: number; months: number; premake: number }): Promise<{ partitioned: string; plain: string }> {
  const start = `(date_trunc('month', now()) - interval '${opts.months - 1} months')`;
  await db.query(eventsDdl("public.events_part", true));
  await db.query(eventsDdl("public.events_plain", false));
  await db.query(
    `SELECT partman.create_parent(p_parent_table => 'public.events_part', p_control => 'created_at', p_interval => '1 month',
       p_premake => ${opts.premake}, p_start_partition => (${start})::text)`,
  );
  await db.query(`UPDATE partman.part_config SET infinite_time_partitions = true WHERE parent_table = 'public.events_part'`);
  // Rows spread evenly from the start of the oldest month to now.
  await db.query(
    `INSERT INTO public.events_plain (run_id, agent_id, kind, payload, created_at)
     SELECT ${runIdSql(`g % ${RUNS}`)}, NULL, 'kind_' || (g % 7), jsonb_build_object('n', g),
            ${start} + (now() - ${start}) * (g::float8 / $1)
       FROM generate_series(1, $1) g`,
    [opts.rows],
  );
  await db.query(`INSERT INTO public.events_part SELECT * FROM public.events_plain`);
  await db.query(`SELECT setval(pg_get_serial_sequence('public.events_part', 'id'), (SELECT max(id) FROM public.events_plain))`);
  await db.query(`VACUUM ANALYZE public.events_plain`);
  await db.query(`VACUUM ANALYZE public.events_part`);
  return { partitioned: "public.events_part", plain: "public.events_plain" };
}

export async function walBytes<T>(db: Client, fn: () => Promise<T>): Promise<{ bytes: number; value: T }> {
  const before = (await db.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0].lsn;
  const value = await fn();
  const r = await db.query<{ n: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn) AS n`, [before]);
  return { bytes: Number(r.rows[0].n), value };
}
