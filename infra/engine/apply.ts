// Executes a plan: each unit (a table's steps, the extensions, the job) in one transaction, so a
// failure leaves every table either fully reconciled or untouched.

import type { Client } from "pg";
import type { Session } from "../db/session";
import type { Plan, Step } from "./plan";

export interface AppliedUnit {
  unit: string;
  database: string;
  steps: { action: Step["action"]; summary: string; sql: string[] }[];
  ms: number;
}

export interface ApplyResult {
  applied: AppliedUnit[];
}

export class ApplyError extends Error {
  constructor(
    message: string,
    readonly applied: AppliedUnit[],
    readonly failed: { unit: string; summary: string; sql: string },
  ) {
    super(message);
  }
}

/** Key of the session-level advisory lock that keeps two applies off one database. */
const APPLY_LOCK = "partman-stack apply";

export async function apply(session: Session, p: Plan, log: (line: string) => void = () => {}): Promise<ApplyResult> {
  if (p.problems.length > 0) {
    throw new Error(`refusing to apply: the plan has ${p.problems.length} problem(s):\n${p.problems.map((x) => `- ${x.message}`).join("\n")}`);
  }
  const applied: AppliedUnit[] = [];
  for (const unit of units(p.steps)) {
    const client = await session.on(unit[0].database);
    const started = Date.now();
    const name = unit[0].unit;
    log(`${name}:`);
    await client.query("BEGIN");
    for (const step of unit) {
      log(`  ${step.summary}`);
      for (const sql of step.sql) {
        try {
          await client.query(sql);
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          const e = err as Error & { hint?: string; detail?: string };
          throw new ApplyError(
            `${name}: ${step.summary} failed, and its transaction was rolled back: ${e.message}` +
              (e.detail ? `\nDETAIL: ${e.detail}` : "") +
              (e.hint ? `\nHINT: ${e.hint}` : "") +
              `\nSQL: ${sql}`,
            applied,
            { unit: name, summary: step.summary, sql },
          );
        }
      }
    }
    await client.query("COMMIT");
    applied.push({ unit: name, database: unit[0].database, steps: unit.map(({ action, summary, sql }) => ({ action, summary, sql })), ms: Date.now() - started });
  }
  return { applied };
}

function units(steps: Step[]): Step[][] {
  const out: Step[][] = [];
  for (const s of steps) {
    const last = out[out.length - 1];
    if (last && last[0].unit === s.unit && last[0].database === s.database) last.push(s);
    else out.push([s]);
  }
  return out;
}

/** Runs fn while holding an advisory lock on the target, failing fast if another apply holds it. */
export async function withApplyLock<T>(client: Client, fn: () => Promise<T>): Promise<T> {
  const got = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [APPLY_LOCK]);
  if (!got.rows[0].ok) {
    throw new Error("another partman-stack apply is running against this database; wait for it to finish and run apply again");
  }
  try {
    return await fn();
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext($1))", [APPLY_LOCK]).catch(() => {});
  }
}
