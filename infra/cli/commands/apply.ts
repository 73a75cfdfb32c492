import { applyStack } from "../../engine/reconcile";
import type { ApplyResult } from "../../engine/apply";
import type { Plan } from "../../engine/plan";
import { formatPlan } from "../format";
import { withStack, type StackOptions } from "../stack-session";

export function applyCommand(opts: StackOptions): Promise<{ plan: Plan; result: ApplyResult }> {
  return withStack(opts, (session, spec) => applyStack(session, spec, opts.log));
}

/** Exit codes: 0 applied (or nothing to do), 1 error; nothing of a unit that failed is kept. */
export async function applyHandler(opts: StackOptions & { json: boolean }): Promise<number> {
  const { plan, result } = await applyCommand(opts);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ plan, applied: result.applied }, null, 2) + "\n");
  } else {
    process.stdout.write(formatPlan(plan));
    if (result.applied.length > 0) {
      const steps = result.applied.reduce((n, u) => n + u.steps.length, 0);
      process.stdout.write(`\nApplied ${steps} change(s) in ${result.applied.length} transaction(s).\n`);
    }
  }
  return 0;
}
