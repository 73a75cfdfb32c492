import { applyStack } from "../../engine/reconcile";
import type { ApplyResult } from "../../engine/apply";
import type { Plan } from "../../engine/plan";
import { formatApply } from "../format";
import { withStack, type StackOptions } from "../stack-session";

export function applyCommand(opts: StackOptions): Promise<{ plan: Plan; result: ApplyResult }> {
  return withStack(opts, (session, spec) => applyStack(session, spec, { log: opts.log }));
}

/** Exit codes: 0 everything applied (or nothing to do), 3 some tables or the job were blocked by a
 *  problem or failed (each named; nothing of those was kept, the rest was applied), or a table's
 *  maintenance deferred partitions the plan said it would expire, 1 error. */
export const APPLY_EXIT = { applied: 0, error: 1, partial: 3 } as const;

export async function applyHandler(opts: StackOptions & { json: boolean }): Promise<number> {
  const { plan, result } = await applyCommand(opts);
  process.stdout.write(opts.json ? JSON.stringify({ plan, ...result }, null, 2) + "\n" : formatApply(plan, result));
  const deferred = result.maintenance.some((m) => m.notYetExpired.length > 0);
  return result.blocked.length + result.failed.length > 0 || deferred ? APPLY_EXIT.partial : APPLY_EXIT.applied;
}
