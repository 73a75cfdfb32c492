import { status, type StatusReport } from "../../engine/status";
import { formatStatus } from "../format";
import { withStack, type StackOptions } from "../stack-session";

export function statusCommand(opts: StackOptions): Promise<StatusReport> {
  return withStack(opts, (session, spec) => status(session, spec));
}

export const STATUS_EXIT_HELP = `Exit codes:
  0  report printed (health checks that fail belong to verify)
  1  error`;

/** Exit codes: STATUS_EXIT_HELP. */
export async function statusHandler(opts: StackOptions & { json: boolean }): Promise<number> {
  const report = await statusCommand(opts);
  process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : formatStatus(report));
  return 0;
}
