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

const PREMAKE = 2;
const firstMonth = (months: number) => `(date_trunc('month', now()) - interval '${months - 1} months')`;

/** A pg_partman set of monthly partitions, from `months` months back to PREMAKE months ahead. */
export async function createPartitioned(db: Client, table: string, months: number): Promise<void> {
  await db.query(eventsDdl(table, true));
  await db.query(
    `SELECT partman.create_parent(p_parent_table => '${table}', p_control => 'created_at', p_interval => '1 month',
       p_premake => ${PREMAKE}, p_start_partition => (${firstMonth(months)})::text)`,
  );
  await db.query(`UPDATE partman.part_config SET infinite_time_partitions = true WHERE parent_table = '${table}'`);
}

/** Copies every row of `from` into the empty `to`, as loaded data is: ids kept, vacuumed and analyzed. */
export async function copyRows(db: Client, from: string, to: string): Promise<void> {
  await db.query(`INSERT INTO ${to} SELECT * FROM ${from}`);
  await db.query(`SELECT setval(pg_get_serial_sequence('${to}', 'id'), (SELECT max(id) FROM ${from}))`);
  await db.query(`VACUUM ANALYZE ${to}`);
}

export async function createPair(db: Client, opts: { rows: number; months: number }): Promise<{ partitioned: string; plain: string }> {
  const start = firstMonth(opts.months);
  await createPartitioned(db, "public.events_part", opts.months);
  await db.query(eventsDdl("public.events_plain", false));
  // Rows spread evenly from the start of the oldest month to now.
  await db.query(
    `INSERT INTO public.events_plain (run_id, agent_id, kind, payload, created_at)
     SELECT ${runIdSql(`g % ${RUNS}`)}, NULL, 'kind_' || (g % 7), jsonb_build_object('n', g),
            ${start} + (now() - ${start}) * (g::float8 / $1)
       FROM generate_series(1, $1) g`,
    [opts.rows],
  );
  await db.query(`VACUUM ANALYZE public.events_plain`);
  await copyRows(db, "public.events_plain", "public.events_part");
  return { partitioned: "public.events_part", plain: "public.events_plain" };
}

/** WAL written while `fn` runs, less the records of the transactions that inserted into `writers`
 *  (a table or partition set): the probes' own inserts, which would swamp a DROP's few kilobytes.
 *  A replication slot keeps the WAL until pg_walinspect has read it; not a temporary one, which
 *  any error in this session (a deadlocked expiry) would drop. */
export async function walBytes<T>(db: Client, writers: string, fn: () => Promise<T>): Promise<{ bytes: number; value: T }> {
  await db.query(`CREATE EXTENSION IF NOT EXISTS pg_walinspect`);
  const before = (await db.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn FROM pg_create_physical_replication_slot('bench_wal', true)`)).rows[0].lsn;
  try {
    const value = await fn();
    const r = await db.query<{ n: string }>(
      `WITH r AS MATERIALIZED (
         SELECT xid, resource_manager = 'Heap' AND record_type LIKE 'INSERT%'
                     AND substring(block_ref FROM 'rel \\d+/\\d+/(\\d+)')::oid IN (SELECT pg_relation_filenode(relid) FROM pg_partition_tree($2::regclass)) AS probe,
                record_length
           FROM pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn()))
       SELECT coalesce(sum(record_length), 0) AS n FROM r WHERE xid = '0' OR xid NOT IN (SELECT xid FROM r WHERE probe)`,
      [before, writers],
    );
    return { bytes: Number(r.rows[0].n), value };
  } finally {
    await db.query(`SELECT pg_drop_replication_slot('bench_wal')`);
  }
}
