// Executes a plan: each unit (a table's steps, the extensions, the job) in one transaction, so a
// failure leaves every table either fully reconciled or untouched; then a table's maintenance run,
// which commits as it goes (partman_stack.run_maintenance). A unit blocked by a problem, or whose
// transaction fails, is reported, and the other units still apply.

import type { Client } from "pg";
import type { Session } from "../db/session";
import { lastMaintenanceRun, type MaintenanceRun } from "./introspect";
import type { Plan, Problem, Step } from "./plan";

export interface AppliedUnit {
  unit: string;
  database: string;
  steps: { action: Step["action"]; summary: string; sql: string[] }[];
  ms: number;
}

/** A unit whose transaction was rolled back (or never started): nothing of it was kept. */
export interface FailedUnit {
  unit: string;
  /** The step and statement that failed, when one did. */
  summary?: string;
  sql?: string;
  message: string;
}

/** A table's maintenance run, as apply ran it after committing the table's changes. */
export interface MaintenanceResult {
  unit: string;
  table: string;
  run: MaintenanceRun | null;
  /** Partitions the plan said would expire that are still there: the run deferred them (the locks
   *  were not free within maintenance.maxLockWait) and the next run expires them. */
  notYetExpired: string[];
}

export interface ApplyResult {
  applied: AppliedUnit[];
  /** Problems that kept their units from being applied. */
  blocked: Problem[];
  failed: FailedUnit[];
  maintenance: MaintenanceResult[];
}

/** What apply reports while it runs (the CLI's progress lines); `ms` is how long that step or
 *  transaction took. */
export type ApplyEvent =
  /** Another session holds the unit's apply lock: this apply waits for it, `budgetMs` at most. */
  | { type: "waiting"; unit: string; holder: string | null; budgetMs: number }
  | { type: "transaction"; unit: string; database: string; steps: number }
  | { type: "step"; unit: string; summary: string }
  | { type: "step-done"; unit: string; summary: string; ms: number; maintenance?: MaintenanceResult }
  | { type: "committed"; unit: string; ms: number }
  | { type: "failed"; failure: FailedUnit; ms: number };

export interface ApplyOptions {
  progress?: (event: ApplyEvent) => void;
  /** How long, in all, this apply may wait for another apply of the same table or job before
   *  giving up on it. (Maintenance's own waits are maintenance.lockTimeout and maxLockWait.) */
  lockWaitMs?: number;
}

export const DEFAULT_LOCK_WAIT_MS = 60_000;

export interface ApplyContext extends ApplyOptions {
  /** Units that must not run (their apply lock was not obtained), with why. */
  unavailable: FailedUnit[];
}

export async function apply(session: Session, p: Plan, ctx: ApplyContext): Promise<ApplyResult> {
  const progress = ctx.progress ?? (() => {});
  const result: ApplyResult = { applied: [], blocked: p.problems, failed: [], maintenance: [] };
  const blocked = new Set(p.problems.map((x) => x.unit));
  result.failed.push(...ctx.unavailable.filter((f) => p.steps.some((s) => s.unit === f.unit)));
  for (const unit of transactions(p.steps)) {
    const name = unit[0].unit;
    // Skipped when its lock was not obtained, and a unit spread over two databases (the job) stops
    // at its first failed transaction.
    if (blocked.has(name) || result.failed.some((f) => f.unit === name)) continue;
    const client = await session.on(unit[0].database);
    const started = Date.now();
    const inTransaction = unit.filter((s) => !s.ownTransactions);
    progress({ type: "transaction", unit: name, database: unit[0].database, steps: inTransaction.length });
    let current: { step?: Step; sql?: string } = {};
    try {
      await client.query("BEGIN");
      for (const step of inTransaction) {
        const stepStarted = Date.now();
        progress({ type: "step", unit: name, summary: step.summary });
        for (const sql of step.sql) {
          current = { step, sql };
          await client.query(sql);
        }
        progress({ type: "step-done", unit: name, summary: step.summary, ms: Date.now() - stepStarted });
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      const failure = describeFailure(name, err as PgError, current, "and its transaction was rolled back");
      progress({ type: "failed", failure, ms: Date.now() - started });
      result.failed.push(failure);
      continue;
    }
    result.applied.push({ unit: name, database: unit[0].database, steps: inTransaction.map(({ action, summary, sql }) => ({ action, summary, sql })), ms: Date.now() - started });
    progress({ type: "committed", unit: name, ms: Date.now() - started });
    for (const step of unit.filter((s) => s.ownTransactions)) {
      const stepStarted = Date.now();
      progress({ type: "step", unit: name, summary: step.summary });
      try {
        for (const sql of step.sql) {
          current = { step, sql };
          await client.query(sql);
        }
        const maintenance = await maintenanceResult(client, name, step.table!, unit);
        result.maintenance.push(maintenance);
        progress({ type: "step-done", unit: name, summary: step.summary, ms: Date.now() - stepStarted, maintenance });
      } catch (err) {
        const failure = describeFailure(name, err as PgError, current, "after the changes above were committed");
        progress({ type: "failed", failure, ms: Date.now() - stepStarted });
        result.failed.push(failure);
      }
    }
  }
  return result;
}

/** What the table's maintenance run did, and which of the partitions the plan said would expire
 *  are still there. */
async function maintenanceResult(client: Client, unit: string, table: string, steps: Step[]): Promise<MaintenanceResult> {
  const promised = steps.flatMap((s) => s.dataLoss?.partitions.map((x) => x.name) ?? []);
  const left = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1) AND c.relname = ANY($2) ORDER BY 1`,
    [table, promised],
  );
  return { unit, table, run: await lastMaintenanceRun(client, table), notYetExpired: left.rows.map((r) => r.name) };
}

type PgError = Error & { hint?: string; detail?: string };

function describeFailure(unit: string, e: PgError, at: { step?: Step; sql?: string }, outcome: string): FailedUnit {
  return {
    unit,
    ...(at.step ? { summary: at.step.summary, sql: at.sql } : {}),
    message:
      `${unit}: ${at.step ? `${at.step.summary} failed` : "failed"}, ${outcome}: ${e.message}` +
      (e.detail ? `\nDETAIL: ${e.detail}` : "") +
      (e.hint ? `\nHINT: ${e.hint}` : "") +
      (at.sql ? `\nSQL: ${at.sql}` : ""),
  };
}

/** Consecutive steps of one unit in one database: one transaction each. */
function transactions(steps: Step[]): Step[][] {
  const out: Step[][] = [];
  for (const s of steps) {
    const last = out[out.length - 1];
    if (last && last[0].unit === s.unit && last[0].database === s.database) last.push(s);
    else out.push([s]);
  }
  return out;
}
