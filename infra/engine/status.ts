// Partition health of a stack's tables: what exists, how big, how far ahead, what retention will
// remove next, and whether the maintenance job is running. Read-only.

import type { Client } from "pg";
import type { StackSpec } from "../config/types";
import type { Session } from "../db/session";
import { quoteIdent } from "../config/identifiers";
import { introspect, type CronJob, type JobRun, type MaintenanceRun, type PartitionInfo, type TableState } from "./introspect";
import { liveConfig, type RetentionRow } from "../partman/config";
import { partmanAdvisoryWarning } from "../partman/advisories";

export type PartitionStatus = PartitionInfo;

export interface TableStatus {
  name: string;
  state: "missing" | "not-partitioned" | "unregistered" | "managed";
  /** time: bounds are ISO times; id: bounds are ids (an integer-range set); null unless partitioned. */
  kind: "time" | "id" | null;
  /** list: one partition per value (each partition's `value`); null unless partitioned. */
  type: "range" | "list" | null;
  /** An integer-range set's highest id, which its premake and retention are measured from. */
  maxId: number | null;
  interval: string | null;
  premake: number | null;
  retention: string | null;
  /** Partitions whose upper bound is before this are expired at the next maintenance run: a time
   *  (now − retention), or an id (the highest id − retention: partitions ending at or below it). */
  retentionHorizon: string | null;
  partitions: PartitionStatus[];
  totalBytes: number;
  /** Exact row count of the default partition; null if there is none. */
  defaultRows: number | null;
  /** Upper bound of the newest partition. */
  coveredUntil: string | null;
  /** Partitions that start after now(), or after the highest id; pg_partman keeps `premake` of them. */
  partitionsAhead: number;
  /** The latest maintenance run (partman_stack.maintenance_runs): created, expired, deferred, and
   *  for a set it failed, the error, its hint and when the set last succeeded. */
  lastMaintenance: MaintenanceRun | null;
  /** The latest run's error (null: it succeeded, or none is recorded), shown as failed. */
  maintenanceError: string | null;
  /** The partitions that are partitioned in turn (subpartition), each with its sub-partitions. */
  subpartitions: TableStatus[];
}

export interface JobStatus extends CronJob {
  lastRun: JobRun | null;
}

export interface StatusReport {
  stack: string;
  database: string;
  partmanVersion: string | null;
  now: string;
  tables: TableStatus[];
  /** null: no job with the stack's jobName. */
  job: JobStatus | null;
  cronDatabase: string | null;
  /** What an operator should act on: the security fixes the installed pg_partman lacks. */
  warnings: string[];
}

export async function status(session: Session, spec: StackSpec): Promise<StatusReport> {
  const state = await introspect(session, spec);
  const db = session.target;
  const now = new Date(state.now);
  const tables: TableStatus[] = [];
  for (const t of spec.tables) tables.push(await tableStatus(db, t.schema, state.tables[t.name], state.tables[t.name].retention, now));
  const job: JobStatus | null = state.cron.job ? { ...state.cron.job, lastRun: state.cron.lastRun } : null;
  return {
    stack: spec.stack,
    database: state.database,
    partmanVersion: state.partman?.version ?? null,
    now: now.toISOString(),
    tables,
    job,
    cronDatabase: state.cron.database,
    warnings: [partmanAdvisoryWarning(spec, state)].filter((w): w is string => w !== null),
  };
}

/** `retention`: the set's own (partman_stack.retention), or for a sub-parent its parent's sub_retention. */
async function tableStatus(db: Client, schema: string, ts: TableState, retentionRow: RetentionRow | null, now: Date): Promise<TableStatus> {
  const kind: TableStatus["state"] =
    ts.relkind === null ? "missing" : ts.relkind !== "p" ? "not-partitioned" : ts.partConfig ? "managed" : "unregistered";
  const partitions = ts.partitions;
  const def = partitions.find((p) => p.isDefault);
  const bounded = partitions.filter((p) => !p.isDefault && p.to !== null);
  const retention = ts.partConfig ? liveConfig(ts.partConfig, retentionRow).retention : null;
  const subpartitions: TableStatus[] = [];
  for (const child of ts.subParents) subpartitions.push(await tableStatus(db, schema, child, ts.subRetention, now));
  return {
    name: ts.name,
    state: kind,
    kind: ts.kind,
    type: ts.strategy === "l" ? "list" : ts.strategy === "r" ? "range" : null,
    maxId: ts.maxId,
    interval: ts.partConfig?.partition_interval ?? null,
    premake: ts.partConfig?.premake ?? null,
    retention,
    retentionHorizon: retention === null ? null : ts.kind === "id" ? idHorizon(ts.maxId, retention) : await horizon(db, retention),
    partitions,
    totalBytes: partitions.reduce((n, p) => n + p.bytes, 0),
    defaultRows: def ? (def.rowsExact ? def.rows! : await countRows(db, schema, def.name)) : null,
    coveredUntil: bounded.length ? bounded[bounded.length - 1].to : null,
    partitionsAhead: bounded.filter((p) => p.from !== null && (ts.kind === "id" ? Number(p.from) > (ts.maxId ?? -1) : new Date(p.from) > now)).length,
    lastMaintenance: ts.lastRun,
    maintenanceError: ts.lastRun?.error ?? null,
    subpartitions,
  };
}

async function horizon(db: Client, retention: string): Promise<string | null> {
  try {
    const r = await db.query<{ h: Date }>("SELECT now() - $1::interval AS h", [retention]);
    return r.rows[0].h.toISOString();
  } catch {
    return null;
  }
}

function idHorizon(maxId: number | null, retention: string): string | null {
  return maxId === null ? null : String(maxId - Number(retention));
}

async function countRows(db: Client, schema: string, table: string): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(schema)}.${quoteIdent(table)}`);
  return Number(r.rows[0].n);
}

/** One maintenance run of a set, in a line. */
export function describeRun(run: MaintenanceRun): string {
  const parts = [
    `${run.created.length} partition(s) created`,
    `${run.expired.length} expired${run.expired.length ? ` (${run.expired.join(", ")})` : ""}`,
    ...(run.deferred.length ? [`${run.deferred.length} deferred (${run.deferred.join(", ")})`] : []),
    `${run.attempts} lock attempt(s), ${run.waitedMs} ms waiting`,
  ];
  return `${parts.join(", ")}${run.deferredReason ? `; ${run.deferredReason}` : ""}${run.error ? `; ${describeFailure(run)}` : ""}`;
}

/** A failed run's error, what to do, and when the set last had a run without error. */
export function describeFailure(run: MaintenanceRun): string {
  return (
    `ERROR: ${run.error}${run.errorHint ? ` HINT: ${run.errorHint}` : ""}; ` +
    `last succeeded: ${run.lastSucceededAt ?? "not in the runs kept (30 days)"}`
  );
}
