// The engine's entry points: introspect → plan, and (under the apply lock) introspect → plan → apply.

import type { StackSpec } from "../config/types";
import type { Session } from "../db/session";
import { apply, withApplyLock, type ApplyResult } from "./apply";
import { introspect } from "./introspect";
import { plan, type Plan } from "./plan";

export async function planStack(session: Session, spec: StackSpec): Promise<Plan> {
  return plan(spec, await introspect(session, spec));
}

/** Plans again under the lock, so what runs is computed from the state it runs against. */
export async function applyStack(
  session: Session,
  spec: StackSpec,
  log?: (line: string) => void,
): Promise<{ plan: Plan; result: ApplyResult }> {
  return withApplyLock(session.target, async () => {
    const p = await planStack(session, spec);
    return { plan: p, result: await apply(session, p, log) };
  });
}
