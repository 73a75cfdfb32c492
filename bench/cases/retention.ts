// Retention: expiring the oldest month by DELETE (plus the VACUUM it forces) on the unpartitioned
// table, against pg_partman's retention in run_maintenance_proc (a DROP) on the partitioned one,
// each with a writer and a reader running the hot query alongside.

import type { Client } from "pg";
import { RUNS, runIdSql, walBytes } from "../lib/events";
import { describeErrors, startProbe } from "../lib/probe";
import type { Measurement } from "../lib/result";
import { timed } from "../lib/stats";

export async function retention(db: Client, url: string, tables: { partitioned: string; plain: string }, months: number): Promise<Measurement[]> {
  const end = (await db.query<{ end: Date; days: number }>(
    `SELECT date_trunc('month', now()) - interval '${months - 2} months' AS end,
            floor(extract(epoch FROM now() - (date_trunc('month', now()) - interval '${months - 2} months')) / 86400)::int - 1 AS days`,
  )).rows[0];
  const probes = async (table: string) => {
    const run = () => [Math.floor(Math.random() * RUNS)];
    return [
      await startProbe(url, `INSERT INTO ${table} (run_id, kind) VALUES (${runIdSql("$1::int")}, 'probe')`, run),
      await startProbe(url, `SELECT * FROM ${table} WHERE run_id = ${runIdSql("$1::int")} AND created_at >= now() - interval '24 hours'`, run),
    ];
  };

  const plainProbes = await probes(tables.plain);
  const del = await walBytes(db, () => timed(() => db.query(`DELETE FROM ${tables.plain} WHERE created_at < $1`, [end.end])));
  const vacuum = await walBytes(db, () => timed(() => db.query(`VACUUM ${tables.plain}`)));
  const [plainWriter, plainReader] = await Promise.all(plainProbes.map((p) => p.stop()));

  const before = Number((await db.query(`SELECT count(*) AS n FROM ${tables.partitioned}`)).rows[0].n);
  await db.query(`UPDATE partman.part_config SET retention = '${end.days} days', retention_keep_table = false WHERE parent_table = '${tables.partitioned}'`);
  const partProbes = await probes(tables.partitioned);
  const drop = await walBytes(db, () => timed(() => db.query(`CALL partman.run_maintenance_proc(p_wait => 0)`)));
  const [partWriter, partReader] = await Promise.all(partProbes.map((p) => p.stop()));
  const dropped = before - Number((await db.query(`SELECT count(*) AS n FROM ${tables.partitioned}`)).rows[0].n);

  const c = "retention";
  return [
    { case: c, metric: "rows expired (oldest month)", unit: "rows", better: "higher", partitioned: dropped, unpartitioned: del.value.value.rowCount ?? 0, note: "the same month on both sides (the partitioned count is net of the probes' inserts)" },
    { case: c, metric: "expire the oldest month: DROP via run_maintenance_proc vs DELETE + VACUUM", unit: "ms", better: "lower", partitioned: drop.value.ms, unpartitioned: del.value.ms + vacuum.value.ms, note: `DELETE ${Math.round(del.value.ms)} ms + VACUUM ${Math.round(vacuum.value.ms)} ms` },
    { case: c, metric: "WAL generated", unit: "bytes", better: "lower", partitioned: drop.bytes, unpartitioned: del.bytes + vacuum.bytes },
    { case: c, metric: "longest stall of a concurrent single-row insert", unit: "ms", better: "lower", partitioned: partWriter.maxMs, unpartitioned: plainWriter.maxMs, note: `partitioned: ${describeErrors(partWriter)}; unpartitioned: ${describeErrors(plainWriter)}` },
    { case: c, metric: "longest stall of a concurrent hot query", unit: "ms", better: "lower", partitioned: partReader.maxMs, unpartitioned: plainReader.maxMs, note: `partitioned: ${describeErrors(partReader)}; unpartitioned: ${describeErrors(plainReader)}` },
  ];
}
