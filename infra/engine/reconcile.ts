// The engine's entry points: introspect → plan, and (under the apply locks) introspect → plan → apply.

import type { StackSpec } from "../config/types";
import { lockBefore, LockWaitTimeout, pairKey, unlock, type AdvisoryKey } from "../db/advisory-lock";
import type { Session } from "../db/session";
import { apply, DEFAULT_LOCK_WAIT_MS, type ApplyOptions, type ApplyResult, type FailedUnit } from "./apply";
import { introspect } from "./introspect";
import { ALL_PARTS, EXTENSIONS_UNIT, JOB_UNIT, plan, tableUnit, type Plan, type PlanPart } from "./plan";

export async function planStack(session: Session, spec: StackSpec, parts: readonly PlanPart[] = ALL_PARTS): Promise<Plan> {
  return plan(spec, await introspect(session, spec), parts);
}

/** The units an apply of these parts may change: each is locked while it is planned and applied. */
function unitsOf(spec: StackSpec, parts: readonly PlanPart[]): string[] {
  return [
    ...(parts.includes("extension") ? [EXTENSIONS_UNIT] : []),
    ...(parts.includes("tables") ? spec.tables.map((t) => tableUnit(t.name)) : []),
    ...(parts.includes("job") ? [JOB_UNIT] : []),
  ].sort();
}

const applyKey = (unit: string): AdvisoryKey => pairKey(`the apply lock of ${unit}`, "partman-stack apply", unit);

/** Plans again under the locks, so what runs is computed from the state it runs against. Applies
 *  of different tables of one database run side by side (the Pulumi engine creates independent
 *  resources concurrently); two applies of the same unit take turns, within the wait budget. */
export async function applyStack(
  session: Session,
  spec: StackSpec,
  opts: ApplyOptions = {},
  parts: readonly PlanPart[] = ALL_PARTS,
): Promise<{ plan: Plan; result: ApplyResult }> {
  const deadline = Date.now() + (opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
  const held: AdvisoryKey[] = [];
  const unavailable: FailedUnit[] = [];
  try {
    // In one order everywhere, so two applies over overlapping tables never wait for each other in a cycle.
    for (const unit of unitsOf(spec, parts)) {
      const key = applyKey(unit);
      try {
        await lockBefore(session.target, key, deadline, false, (holder) =>
          opts.progress?.({ type: "waiting", unit, holder, budgetMs: Math.max(deadline - Date.now(), 0) }),
        );
        held.push(key);
      } catch (err) {
        if (!(err instanceof LockWaitTimeout)) throw err;
        unavailable.push({ unit, message: `${unit}: another session is applying it: ${err.message}; nothing was changed for it: run apply again once that session has finished` });
      }
    }
    const p = await planStack(session, spec, parts);
    return { plan: p, result: await apply(session, p, { ...opts, unavailable }) };
  } finally {
    for (const key of held) await unlock(session.target, key).catch(() => {});
  }
}
