import { applyStack } from "../../engine/reconcile";
import type { ApplyEvent, ApplyResult } from "../../engine/apply";
import type { Plan } from "../../engine/plan";
import { applyProgress, formatApply } from "../format";
import { withStack, type StackOptions } from "../stack-session";

export function applyCommand(opts: StackOptions & { progress?: (e: ApplyEvent) => void }): Promise<{ plan: Plan; result: ApplyResult }> {
  return withStack(opts, (session, spec) => applyStack(session, spec, { progress: opts.progress }));
}

export const APPLY_EXIT = { applied: 0, error: 1, partial: 3 } as const;

export const APPLY_EXIT_HELP = `Exit codes:
  0  everything applied (or nothing to do)
  3  a table or the job was blocked by a problem or failed (each named; nothing of it was kept, the
     rest was applied), or a table's maintenance deferred partitions the plan said it would expire
  1  error`;

/** Progress on opts.log (stderr) as it runs, then a summary of what ran; exit codes: APPLY_EXIT_HELP. */
export async function applyHandler(opts: StackOptions & { json: boolean }): Promise<number> {
  const { plan, result } = await applyCommand({ ...opts, progress: opts.log && applyProgress(opts.log) });
  process.stdout.write(opts.json ? JSON.stringify({ plan, ...result }, null, 2) + "\n" : formatApply(plan, result));
  const deferred = result.maintenance.some((m) => m.notYetExpired.length > 0);
  return result.blocked.length + result.failed.length > 0 || deferred ? APPLY_EXIT.partial : APPLY_EXIT.applied;
}
