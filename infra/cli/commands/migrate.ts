import readline from "node:readline/promises";
import type { StackSpec } from "../../config/types";
import type { Session } from "../../db/session";
import {
  finishPreview, MIGRATE_DEFAULTS, migrateFinish, migrateRollback, migrateRun, migrateStatus,
  type MigrateOptions, type RunResult, type StatusResult,
} from "../../migrate/run";
import { duration, progressReporter } from "../../migrate/progress";
import { withStack, type StackOptions } from "../stack-session";

export type MigrateAction = "run" | "status" | "rollback" | "finish";

export interface MigrateCliOptions extends StackOptions {
  json: boolean;
  dryRun: boolean;
  yes: boolean;
  batchSize?: number;
  sleepMs?: number;
  maxStallMs?: number;
  maxLockWaitMs?: number;
  waitMs?: number;
}

export const MIGRATE_EXIT_HELP = `Exit codes:
  0  done (run: swapped; status: printed; rollback: restored or abandoned; finish: dropped)
  1  error, refusal, or finish not confirmed
  4  another migrate run, rollback or finish of the table is running (named); nothing changed`;

/** Exit codes: MIGRATE_EXIT_HELP. */
export async function migrateHandler(action: MigrateAction, table: string, opts: MigrateCliOptions): Promise<number> {
  const out = process.stdout;
  const base: MigrateOptions = {
    batchSize: opts.batchSize ?? MIGRATE_DEFAULTS.batchSize,
    sleepMs: opts.sleepMs ?? MIGRATE_DEFAULTS.sleepMs,
    maxStallMs: opts.maxStallMs ?? MIGRATE_DEFAULTS.maxStallMs,
    maxLockWaitMs: opts.maxLockWaitMs ?? MIGRATE_DEFAULTS.maxLockWaitMs,
    waitMs: opts.waitMs ?? MIGRATE_DEFAULTS.waitMs,
    dryRun: opts.dryRun,
    log: (line) => process.stderr.write(`${line}\n`),
    print: (sql) => out.write(`${sql}\n\n`),
  };
  return withStack(opts, act);

  async function act(session: Session, spec: StackSpec): Promise<number> {
    switch (action) {
      case "run": {
        const progress = progressReporter(process.stderr);
        if (opts.dryRun) out.write(`-- dry run: the statements migrate run would execute for ${table}; nothing is changed\n\n`);
        const r = await migrateRun(session, spec, table, { ...base, progress: (p) => progress.update(p) });
        progress.done();
        if (!opts.dryRun) out.write(opts.json ? JSON.stringify(r, null, 2) + "\n" : formatRun(r));
        return 0;
      }
      case "status": {
        const s = await migrateStatus(session, spec, table);
        out.write(opts.json ? JSON.stringify(s, null, 2) + "\n" : formatStatus(s));
        return 0;
      }
      case "rollback": {
        const r = await migrateRollback(session, spec, table, base);
        if (!opts.dryRun) {
          out.write(
            r === "restored"
              ? `${table} is the original table again, with every write made since the swap; the partitioned copy is kept in sync: migrate run swaps again, migrate rollback abandons it.\n`
              : `migration of ${table} abandoned: the partitioned copy and the change capture are gone; ${table} is untouched.\n`,
          );
        }
        return 0;
      }
      case "finish": {
        const p = await finishPreview(session, spec, table);
        out.write(
          `finish drops ${p.retired} (${p.retiredRows.toLocaleString("en")} rows, ${(p.retiredBytes / 1048576).toFixed(1)} MB), the original table kept since the swap; ` +
            `after it, migrate rollback is no longer possible.\nBack it up first if you may need it:\n  ${p.backupCommand}\n`,
        );
        if (!opts.yes && !(await confirm(`Drop ${p.retired}? Type "yes": `))) {
          process.stderr.write(`not confirmed: nothing dropped${process.stdin.isTTY ? "" : " (pass --yes when not on a terminal)"}\n`);
          return 1;
        }
        await migrateFinish(session, spec, table, base);
        if (!opts.dryRun) out.write(`${p.retired} dropped; ${p.table} is a pg_partman partition set. Run partman-stack plan to apply its declared retention.\n`);
        return 0;
      }
    }
  }
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim().toLowerCase() === "yes";
  } finally {
    rl.close();
  }
}

function formatRun(r: RunResult): string {
  if (r.alreadySwapped) return `${r.table} was already swapped; the original is ${r.retired} until migrate finish.\n`;
  const v = r.verification;
  return [
    `${r.table} is now partitioned: ${r.rowsCopied.toLocaleString("en")} rows copied, ${r.changesApplied.toLocaleString("en")} captured change(s) replayed.`,
    v ? `verified before the swap: ${v.rows.toLocaleString("en")} rows, checksum ${v.checksum}, ${Object.keys(v.partitions).length} partition range(s) equal${v.defaultRows ? `; ${v.defaultRows} row(s) outside the declared partitions are in the default partition` : ""}.` : "",
    r.swap
      ? `swap: writers waited at most ${r.swap.stallMs} ms (lock taken after ${r.swap.waitedMs} ms in ${r.swap.attempts} attempt(s), held ${r.swap.heldMs} ms).`
      : "",
    `the original is kept as ${r.retired}: migrate rollback restores it, migrate finish drops it.`,
  ].filter(Boolean).join("\n") + "\n";
}

function formatStatus(s: StatusResult): string {
  const running = s.runningBy ? `  running now: ${s.runningBy}` : "";
  if (s.phase === "none") return [`no migration of ${s.table} in progress`, running].filter(Boolean).join("\n") + "\n";
  return [
    `${s.table}: ${s.phase} (started ${s.startedAt})`,
    running,
    `  rows copied ${s.rowsCopied.toLocaleString("en")}, remaining ~${s.rowsRemaining.toLocaleString("en")}, ${Math.round(s.rowsPerSecond).toLocaleString("en")} rows/s${s.etaSeconds !== null && s.phase === "copying" ? `, ETA ${duration(s.etaSeconds)}` : ""}`,
    `  captured changes pending: ${s.pendingChanges.toLocaleString("en")}${s.phase === "swapped" ? " (writes since the swap, replayed into the original by rollback)" : ""}`,
    s.phase === "swapped" ? `  swapped (writers blocked at most ${s.swapLockMs} ms); original kept as ${s.retired}` : "",
  ].filter(Boolean).join("\n") + "\n";
}
