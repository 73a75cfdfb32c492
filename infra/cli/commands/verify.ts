import { verify, type VerifyReport } from "../../engine/verify";
import { withStack, type StackOptions } from "../stack-session";

export function verifyCommand(opts: StackOptions & { fix: boolean }): Promise<VerifyReport> {
  return withStack(opts, (session, spec) => verify(session, spec, { fix: opts.fix, log: opts.log }));
}

const MARK = { ok: "✓", warn: "!", fail: "✗" } as const;

export const VERIFY_EXIT_HELP = `Exit codes:
  0  every check passed (warnings allowed)
  1  a check failed, or an error`;

/** Exit codes: VERIFY_EXIT_HELP. */
export async function verifyHandler(opts: StackOptions & { json: boolean; fix: boolean }): Promise<number> {
  const report = await verifyCommand(opts);
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else {
    const lines = [`Stack ${report.stack} → database ${report.database}`];
    for (const c of report.checks) {
      // A query check's message starts by naming its query: "query" once is enough.
      const head = [c.message.startsWith(`${c.check} `) ? null : c.check, c.table].filter(Boolean).join(" ");
      lines.push(`${MARK[c.status]} ${head}: ${c.message}`);
      if (c.fix && c.status !== "ok") lines.push(`    fix: ${c.fix}`);
    }
    const failed = report.checks.filter((c) => c.status === "fail").length;
    const warned = report.checks.filter((c) => c.status === "warn").length;
    lines.push("", failed ? `FAILED: ${failed} check(s) failed${warned ? `, ${warned} warning(s)` : ""}.` : `OK${warned ? ` with ${warned} warning(s)` : ""}.`);
    process.stdout.write(lines.join("\n") + "\n");
  }
  return report.ok ? 0 : 1;
}
