// The engine's entry points: introspect → plan, and (under the apply lock) introspect → plan → apply.

import type { StackSpec } from "../config/types";
import type { Session } from "../db/session";
import { apply, withApplyLock, type ApplyResult } from "./apply";
import { introspect } from "./introspect";
import { ALL_PARTS, plan, type Plan, type PlanPart } from "./plan";

export async function planStack(session: Session, spec: StackSpec, parts: readonly PlanPart[] = ALL_PARTS): Promise<Plan> {
  return plan(spec, await introspect(session, spec), parts);
}

/** Plans again under the lock, so what runs is computed from the state it runs against. */
export async function applyStack(
  session: Session,
  spec: StackSpec,
  log?: (line: string) => void,
  parts: readonly PlanPart[] = ALL_PARTS,
): Promise<{ plan: Plan; result: ApplyResult }> {
  return withApplyLock(session.target, async () => {
    const p = await planStack(session, spec, parts);
    return { plan: p, result: await apply(session, p, log) };
  });
}
