// `partman-stack <command>`: parses arguments and hands over to a command's handler. Each command
// module also exports a library function returning data, for programs and tests.

import { parseArgs } from "node:util";
import { ConfigError } from "../config/errors";
import { applyHandler } from "./commands/apply";
import { archiveHandler } from "./commands/archive";
import { localHandler, type LocalAction } from "./commands/local";
import { migrateHandler, type MigrateAction } from "./commands/migrate";
import { lockLimitProblems, MIGRATE_DEFAULTS, MigrationRefused } from "../migrate/run";
import { planHandler, type PlanFormat } from "./commands/plan";
import { verifyHandler } from "./commands/verify";
import { statusHandler } from "./commands/status";

export const USAGE = `Usage: partman-stack <command> [options]

Commands:
  plan     Show the changes that would bring the database to the stack's declaration, with their SQL.
           Exit 0 = in sync, 2 = changes pending, 1 = error.
  apply    Apply those changes (each table in one transaction). A table or the job that is blocked
           by a problem, or whose transaction fails, is left unchanged and the rest is applied.
           Exit 0 = all applied, 3 = some blocked or failed (named), 1 = error.
  verify   Health checks to alert on: tables partitioned and registered, part_config as declared,
           partitions premade ahead, contiguous and on UTC boundaries, default partitions empty,
           pruning works, the maintenance job scheduled (running in UTC), active and succeeding.
           Exit 0 = healthy (warnings allowed), 1 = a check failed.
           --fix moves rows out of default partitions (pg_partman's partition_data_proc) and fills
           gaps between partitions (partition_gap_fill).
  status   Partitions per table (range, size, estimated rows), default-partition rows,
           how far ahead partitions exist, the retention horizon, the maintenance job and its last run.
  migrate run|status|rollback|finish <table>
           Move a live, unpartitioned table onto its declared partitions without downtime:
           run prepares, copies, catches up, verifies and swaps (resumes after an interruption);
           status shows progress; rollback restores the original (until finish); finish drops
           the original after confirmation. Exit 0 = done, 1 = error or refused.
  archive <table> --to <dir>
           Dump each expired partition (in the table's retentionSchema, or attached past the
           retention horizon) to <dir>/<schema>.<partition>.dump with a .sha256 beside it, verify
           the dump, and only then drop the partition; a failed dump drops nothing. --dry-run lists
           them and changes nothing; --json prints the result. Exit 0 = all archived (or none
           expired), 1 = a failure.
  local start|stop|url
           The embedded PostgreSQL 15 cluster (pg_partman 4.7.2 and 5.2.4, pg_cron) under .partman/local/,
           used by --stack local. On Debian as root, start installs what is missing.

Options:
  --stack <name>         stacks/Pulumi.<name>.yaml (default: local)
  --database-url <url>   connect here instead of the stack's database (also PARTMAN_STACK_DATABASE_URL)
  --format <f>           plan: text (default), json or markdown (a pull-request comment)
  --fix                  verify: move rows out of default partitions and fill gaps, then check
  --json                 machine-readable output (plan, apply, status, migrate run/status)
  --dry-run              migrate: print every SQL statement, change nothing
  --batch-size <rows>    migrate run: rows per copy batch (default 10000)
  --sleep <ms>           migrate run: pause between batches (default 0)
  --max-stall <ms>       migrate: the longest one attempt at the swap's (rollback's, finish's) lock may
                         hold up the table's readers and writers; attempts start at 50 ms and double
                         up to it (10 to 60000, default 2000)
  --max-lock-wait <ms>   migrate: how long to keep trying for that lock before giving up, changing
                         nothing (at least --max-stall, at most 3600000; default 300000)
  --lock-timeout <ms>    deprecated: the old name of --max-stall
  --yes                  migrate finish: do not ask for confirmation
  --to <dir>             archive: where the dumps and their .sha256 files go (created if missing)
  -h, --help             this text
`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        stack: { type: "string", default: "local" },
        "database-url": { type: "string" },
        json: { type: "boolean", default: false },
        format: { type: "string" },
        fix: { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
        "batch-size": { type: "string" },
        sleep: { type: "string" },
        "max-stall": { type: "string" },
        "max-lock-wait": { type: "string" },
        "lock-timeout": { type: "string" },
        yes: { type: "boolean", default: false },
        to: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 1;
  }
  const opts = {
    stack: values.stack!,
    databaseUrl: values["database-url"],
    json: values.json!,
    log: (line: string) => process.stderr.write(`${line}\n`),
    command: positionals.join(" "),
  };
  try {
    switch (command) {
      case "plan": {
        const format = values.format ?? (values.json ? "json" : "text");
        if (!["text", "json", "markdown"].includes(format)) return usageError(`--format takes text, json or markdown, not "${format}"`);
        return await planHandler({ ...opts, format: format as PlanFormat });
      }
      case "verify":
        return await verifyHandler({ ...opts, fix: values.fix! });
      case "apply":
        return await applyHandler(opts);
      case "status":
        return await statusHandler(opts);
      case "migrate": {
        const [action, table] = rest;
        if (!["run", "status", "rollback", "finish"].includes(action) || !table) return usageError("migrate takes run, status, rollback or finish, and a table");
        const num = (name: string, v: string | undefined, min: number, unit = "") => {
          if (v === undefined) return undefined;
          if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} ${v} must be a whole number${unit}${min > 0 ? ` ≥ ${min}` : ""}`);
          return Number(v);
        };
        if (values["lock-timeout"] !== undefined) {
          if (values["max-stall"] !== undefined) return usageError("--lock-timeout is the deprecated name of --max-stall: give --max-stall only");
          process.stderr.write(`--lock-timeout is deprecated: it is now --max-stall (the longest one lock attempt holds the table up); --max-lock-wait bounds the whole wait\n`);
        }
        const maxStallMs = num("max-stall", values["max-stall"] ?? values["lock-timeout"], 0, " of milliseconds");
        const maxLockWaitMs = num("max-lock-wait", values["max-lock-wait"], 0, " of milliseconds");
        const limits = lockLimitProblems({ maxStallMs: maxStallMs ?? MIGRATE_DEFAULTS.maxStallMs, maxLockWaitMs: maxLockWaitMs ?? MIGRATE_DEFAULTS.maxLockWaitMs });
        if (limits.length > 0) throw new Error(limits.join("\n"));
        return await migrateHandler(action as MigrateAction, table, {
          ...opts,
          dryRun: values["dry-run"]!,
          yes: values.yes!,
          batchSize: num("batch-size", values["batch-size"], 1),
          sleepMs: num("sleep", values.sleep, 0),
          maxStallMs,
          maxLockWaitMs,
        });
      }
      case "archive": {
        const table = rest[0];
        if (!table || !values.to) return usageError("archive takes a table and --to <dir>");
        return await archiveHandler(table, { ...opts, to: values.to, dryRun: values["dry-run"]! });
      }
      case "local": {
        const action = rest[0];
        if (action !== "start" && action !== "stop" && action !== "url") return usageError("local takes start, stop or url");
        return await localHandler(action as LocalAction, opts);
      }
      default:
        return usageError(`unknown command "${command}"`);
    }
  } catch (err) {
    process.stderr.write(err instanceof ConfigError || err instanceof MigrationRefused ? `${err.message}\n` : `error: ${(err as Error).message}\n`);
    return 1;
  }
}

function usageError(message: string): number {
  process.stderr.write(`partman-stack: ${message}\n\n${USAGE}`);
  return 1;
}
