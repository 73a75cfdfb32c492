// Executes a plan: each unit (a table's steps, the extensions, the job) in one transaction, so a
// failure leaves every table either fully reconciled or untouched. A unit blocked by a problem, or
// whose transaction fails, is reported, and the other units still apply.

import type { Client } from "pg";
import { quoteIdent } from "../config/identifiers";
import { lockBefore, LockWaitTimeout, textKey } from "../db/advisory-lock";
import type { Session } from "../db/session";
import { PARTMAN_MAINTENANCE_LOCK } from "./partman";
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

export interface ApplyResult {
  applied: AppliedUnit[];
  /** Problems that kept their units from being applied. */
  blocked: Problem[];
  failed: FailedUnit[];
}

export interface ApplyOptions {
  log?: (line: string) => void;
  /** How long, in all, this apply may wait for locks other sessions hold (another apply of the
   *  same table or job, pg_partman's maintenance run) before giving up on the units that need them. */
  lockWaitMs?: number;
}

export const DEFAULT_LOCK_WAIT_MS = 60_000;

/** The lock pg_partman's maintenance runs under. Taken first in a unit that runs maintenance, so a
 *  maintenance run elsewhere (the pg_cron job) is waited for instead of silently skipped: pg_partman
 *  returns with only a NOTICE when it finds the lock taken. */
const PARTMAN_MAINTENANCE = textKey("pg_partman's maintenance lock", PARTMAN_MAINTENANCE_LOCK);

export interface ApplyContext extends ApplyOptions {
  /** Epoch ms after which no more lock waits start (shared with the apply locks). */
  deadline: number;
  /** Units that must not run (their apply lock was not obtained), with why. */
  unavailable: FailedUnit[];
}

export async function apply(session: Session, p: Plan, ctx: ApplyContext): Promise<ApplyResult> {
  const log = ctx.log ?? (() => {});
  const result: ApplyResult = { applied: [], blocked: p.problems, failed: [] };
  const blocked = new Set(p.problems.map((x) => x.unit));
  result.failed.push(...ctx.unavailable.filter((f) => p.steps.some((s) => s.unit === f.unit)));
  for (const unit of transactions(p.steps)) {
    const name = unit[0].unit;
    // Skipped when its lock was not obtained, and a unit spread over two databases (the job) stops
    // at its first failed transaction.
    if (blocked.has(name) || result.failed.some((f) => f.unit === name)) continue;
    const client = await session.on(unit[0].database);
    const started = Date.now();
    log(`${name}:`);
    let current: { step?: Step; sql?: string } = {};
    await client.query("BEGIN");
    try {
      if (unit.some((s) => s.action === "run-maintenance")) await lockBefore(client, PARTMAN_MAINTENANCE, ctx.deadline, true);
      for (const step of unit) {
        log(`  ${step.summary}`);
        for (const sql of step.sql) {
          current = { step, sql };
          await client.query(sql);
        }
      }
      current = {};
      await checkPromisedDrops(client, unit);
      await client.query("COMMIT");
      result.applied.push({ unit: name, database: unit[0].database, steps: unit.map(({ action, summary, sql }) => ({ action, summary, sql })), ms: Date.now() - started });
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      const failure = describeFailure(name, err as PgError, current);
      log(`  failed: ${failure.message}`);
      result.failed.push(failure);
    }
  }
  return result;
}

type PgError = Error & { hint?: string; detail?: string };

function describeFailure(unit: string, e: PgError, at: { step?: Step; sql?: string }): FailedUnit {
  if (e instanceof LockWaitTimeout) {
    const why =
      e.key.what === PARTMAN_MAINTENANCE.what
        ? "pg_partman's maintenance is running in another session, and this unit's maintenance run would have been skipped"
        : `another session is applying ${unit}`;
    return { unit, message: `${unit}: ${why}: ${e.message}; nothing was changed for it: run apply again once that session has finished` };
  }
  return {
    unit,
    ...(at.step ? { summary: at.step.summary, sql: at.sql } : {}),
    message:
      `${unit}: ${at.step ? `${at.step.summary} failed` : "failed"}, and its transaction was rolled back: ${e.message}` +
      (e.detail ? `\nDETAIL: ${e.detail}` : "") +
      (e.hint ? `\nHINT: ${e.hint}` : "") +
      (at.sql ? `\nSQL: ${at.sql}` : ""),
  };
}

/** The partitions the plan said this unit's maintenance run drops must be gone before it commits:
 *  a maintenance run that did less than promised rolls the whole unit back. */
async function checkPromisedDrops(client: Client, unit: Step[]): Promise<void> {
  for (const step of unit) {
    if (!step.dataLoss || !step.table) continue;
    const [schema, table] = step.table.split(".");
    const left = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = $1::regclass AND c.relname = ANY($2) ORDER BY 1`,
      [`${quoteIdent(schema)}.${quoteIdent(table)}`, step.dataLoss.partitions.map((x) => x.name)],
    );
    if (left.rows.length > 0) {
      throw new Error(`pg_partman's maintenance did not expire ${left.rows.map((r) => r.name).join(", ")}, which the plan said it would`);
    }
  }
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
