import { planStack } from "../../engine/reconcile";
import type { Plan } from "../../engine/plan";
import { formatPlan } from "../format";
import { formatPlanMarkdown } from "../markdown";
import { withStack, type StackOptions } from "../stack-session";

export const PLAN_EXIT = { inSync: 0, error: 1, pending: 2 } as const;

export const PLAN_EXIT_HELP = `Exit codes:
  0  in sync: nothing to change
  2  changes pending
  1  error, or a problem that blocks the plan`;

export function planCommand(opts: StackOptions): Promise<Plan> {
  return withStack(opts, (session, spec) => planStack(session, spec));
}

export type PlanFormat = "text" | "json" | "markdown";

/** Exit codes: PLAN_EXIT_HELP. */
export async function planHandler(opts: StackOptions & { format: PlanFormat }): Promise<number> {
  const p = await planCommand(opts);
  const render = { text: formatPlan, json: (x: Plan) => JSON.stringify(x, null, 2) + "\n", markdown: formatPlanMarkdown };
  process.stdout.write(render[opts.format](p));
  if (p.problems.length > 0) return PLAN_EXIT.error;
  return p.steps.length > 0 ? PLAN_EXIT.pending : PLAN_EXIT.inSync;
}
