// Retention: expiring the oldest month three ways, one after the other on the same data, each
// while the same clients use the table: single-row writers, a hot query bounded by now() (which
// plans over every partition), and one long report that starts just before the expiry.
//   DELETE + the VACUUM it forces, on the unpartitioned table;
//   pg_partman's own maintenance (part_config.retention set, run_maintenance_proc), a DROP;
//   partman-stack's maintenance (retention in partman_stack.retention, part_config.retention NULL)
//   on a copy of the partitioned table.

import type { Client } from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { maintenanceObjects } from "../../infra/partman/maintenance-objects";
import { partmanInstall } from "../../infra/partman/version";
import { copyRows, createPartitioned, RUNS, runIdSql, walBytes } from "../lib/events";
import { describeErrors, errorMessage, startProbe, type ProbeResult } from "../lib/probe";
import type { Measurement } from "../lib/result";
import { timed } from "../lib/stats";

const WRITERS = 2;
const REPORT_SECONDS = 8;
const STACK_TABLE = "public.events_stack";

interface Side {
  expired: number;
  ms: number;
  wal: number;
  /** How the expiry went, or why it failed. */
  note: string;
  writers: ProbeResult;
  reader: ProbeResult;
  report: ProbeResult;
}

/** Runs `expire` on `table` under the probes, the report started a second before it. */
async function side(db: Client, url: string, table: string, end: Date, expire: (reportDone: Promise<ProbeResult>) => Promise<string>): Promise<Side> {
  const oldRows = async () => Number((await db.query(`SELECT count(*) AS n FROM ${table} WHERE created_at < $1`, [end])).rows[0].n);
  const before = await oldRows();
  const run = () => [Math.floor(Math.random() * RUNS)];
  const writers = await startProbe(url, `INSERT INTO ${table} (run_id, kind) VALUES (${runIdSql("$1::int")}, 'probe')`, { params: run, connections: WRITERS });
  const reader = await startProbe(url, `SELECT * FROM ${table} WHERE run_id = ${runIdSql("$1::int")} AND created_at > now() - interval '1 hour'`, { params: run });
  // The sleep runs first (a one-time filter), after planning has locked every partition.
  const report = (await startProbe(url, `SELECT kind, count(*) FROM ${table} WHERE (SELECT true FROM pg_sleep(${REPORT_SECONDS})) GROUP BY kind`, { once: true })).stop();
  await sleep(1000);
  const { bytes, value } = await walBytes(db, table, () => timed(() => expire(report).catch((err) => `failed: ${errorMessage(err)}`)));
  const reportResult = await report;
  const [w, r] = await Promise.all([writers.stop(), reader.stop()]);
  return { expired: before - (await oldRows()), ms: value.ms, wal: bytes, note: value.value, writers: w, reader: r, report: reportResult };
}

export async function retention(db: Client, url: string, tables: { partitioned: string; plain: string }, months: number): Promise<Measurement[]> {
  const { end, days } = (await db.query<{ end: Date; days: number }>(
    `SELECT date_trunc('month', now()) - interval '${months - 2} months' AS end,
            floor(extract(epoch FROM now() - (date_trunc('month', now()) - interval '${months - 2} months')) / 86400)::int - 1 AS days`,
  )).rows[0];
  const version = (await db.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'pg_partman'`)).rows[0].v;
  const objects = maintenanceObjects(partmanInstall(version, "partman"));
  await db.query(objects.sql);
  await createPartitioned(db, STACK_TABLE, months);
  await copyRows(db, tables.partitioned, STACK_TABLE);
  const ms = (t: { ms: number }) => `${Math.round(t.ms)} ms`;

  const plain = await side(db, url, tables.plain, end, async (reportDone) => {
    const del = await timed(() => db.query(`DELETE FROM ${tables.plain} WHERE created_at < $1`, [end]));
    // VACUUM cannot remove rows a running snapshot still sees: the one that reclaims the month
    // runs once the report is over.
    await reportDone;
    const vacuum = await timed(() => db.query(`VACUUM ${tables.plain}`));
    return `DELETE ${ms(del)}, then VACUUM ${ms(vacuum)} once the report had ended`;
  });

  await db.query(`UPDATE partman.part_config SET retention = '${days} days', retention_keep_table = false WHERE parent_table = '${tables.partitioned}'`);
  const partman = await side(db, url, tables.partitioned, end, () => db.query(`CALL partman.run_maintenance_proc()`).then(() => "run_maintenance_proc returned"));

  await db.query(`INSERT INTO partman_stack.retention (parent_table, retention) VALUES ('${STACK_TABLE}', '${days} days')`);
  const stack = await side(db, url, STACK_TABLE, end, () =>
    db.query(`CALL partman_stack.run_maintenance(p_parent_table => '${STACK_TABLE}', p_analyze => false, p_lock_timeout => '200ms', p_max_lock_wait => '1 min')`).then(() => "run_maintenance returned"),
  );
  const runs = (await db.query<{ attempts: number; waited_ms: number; expired: string[]; deferred: string[]; deferred_reason: string | null; error: string | null }>(
    `SELECT attempts, waited_ms, expired, deferred, deferred_reason, error FROM partman_stack.maintenance_runs WHERE parent_table = $1 ORDER BY id DESC LIMIT 1`,
    [STACK_TABLE],
  )).rows[0];

  const three = (metric: string, unit: Measurement["unit"], value: (s: Side) => number, note?: (s: Side) => string): Measurement => ({
    case: "retention",
    metric,
    unit,
    better: unit === "rows" ? "higher" : "lower",
    partitioned: value(partman),
    stack: value(stack),
    unpartitioned: value(plain),
    note: note && `pg_partman: ${note(partman)}; partman-stack: ${note(stack)}; DELETE: ${note(plain)}`,
  });
  return [
    three("rows expired (the oldest month)", "rows", (s) => s.expired),
    three(`expire it, starting 1 s into an ${REPORT_SECONDS} s report on the table: time until done`, "ms", (s) => s.ms, (s) => s.note),
    three("WAL generated (the writers' own inserts excluded)", "bytes", (s) => s.wal),
    three(`longest stall of a single-row insert (${WRITERS} connections)`, "ms", (s) => s.writers.maxMs, (s) => describeErrors(s.writers)),
    three("longest stall of the hot query (bounded by now(): planned over every partition)", "ms", (s) => s.reader.maxMs, (s) => describeErrors(s.reader)),
    three(`duration of the ${REPORT_SECONDS} s report`, "ms", (s) => s.report.maxMs, (s) => describeErrors(s.report)),
    {
      case: "retention",
      metric: "partman-stack's run in partman_stack.maintenance_runs: time waiting for locks (waited_ms)",
      unit: "ms",
      better: "lower",
      partitioned: null,
      stack: runs.waited_ms,
      unpartitioned: null,
      note: `${runs.attempts} lock attempt(s); expired ${runs.expired.join(", ") || "nothing"}; deferred ${runs.deferred.join(", ") || "nothing"}${runs.deferred_reason ? ` (${runs.deferred_reason})` : ""}; error: ${runs.error ?? "none"}; ${objects.mark}`,
    },
  ];
}
