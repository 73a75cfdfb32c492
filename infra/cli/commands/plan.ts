import { planStack } from "../../engine/reconcile";
import type { Plan } from "../../engine/plan";
import { formatPlan } from "../format";
import { withStack, type StackOptions } from "../stack-session";

/** Exit codes: 0 in sync, 2 changes pending, 1 error (including a plan with problems). */
export const PLAN_EXIT = { inSync: 0, error: 1, pending: 2 } as const;

export function planCommand(opts: StackOptions): Promise<Plan> {
  return withStack(opts, (session, spec) => planStack(session, spec));
}

export async function planHandler(opts: StackOptions & { json: boolean }): Promise<number> {
  const p = await planCommand(opts);
  process.stdout.write(opts.json ? JSON.stringify(p, null, 2) + "\n" : formatPlan(p));
  if (p.problems.length > 0) return PLAN_EXIT.error;
  return p.steps.length > 0 ? PLAN_EXIT.pending : PLAN_EXIT.inSync;
}
