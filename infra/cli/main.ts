// `partman-stack <command>`: each command's options, help and exit codes (commander), handed over
// to the command's handler. Each command module also exports a library function returning data,
// for programs and tests.

import { Command, CommanderError, Option } from "commander";
import { PartmanStackError } from "../config/errors";
import { DATABASE_URL_ENV } from "../db/connection";
import { lockLimitProblems, MIGRATE_DEFAULTS } from "../migrate/run";
import { APPLY_EXIT_HELP, applyHandler } from "./commands/apply";
import { ARCHIVE_EXIT_HELP, archiveHandler } from "./commands/archive";
import { localHandler, type LocalAction } from "./commands/local";
import { MIGRATE_EXIT_HELP, migrateHandler, type MigrateAction } from "./commands/migrate";
import { PLAN_EXIT_HELP, planHandler, type PlanFormat } from "./commands/plan";
import { STATUS_EXIT_HELP, statusHandler } from "./commands/status";
import { VERIFY_EXIT_HELP, verifyHandler } from "./commands/verify";

/** Runs one command line (without `node` and the script) and returns its exit code; commander
 *  never exits the process: bin.js sets the code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    await program((c) => (code = c)).parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    // Usage errors and --help: commander has printed the message and the command's help.
    if (err instanceof CommanderError) return err.exitCode;
    // partman-stack's own errors carry their text and exit code; anything else is a bug or the
    // driver's, printed as it came.
    if (err instanceof PartmanStackError) {
      process.stderr.write(`${err.cliText()}\n`);
      return err.exitCode;
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  }
}

const log = (line: string) => process.stderr.write(`${line}\n`);

interface StackFlags {
  stack: string;
  databaseUrl?: string;
}

/** A new program per call: commander keeps parsed option values on its commands. */
function program(exit: (code: number) => void): Command {
  const root = new Command("partman-stack")
    .description("PostgreSQL time-partitioning (pg_partman + pg_cron) as reviewed, per-environment infrastructure.")
    .exitOverride()
    .showHelpAfterError()
    .addHelpText("after", "\nRun `partman-stack <command> --help` for a command's options and exit codes.");
  const run = async (handler: Promise<number>) => exit(await handler);

  // The stack options, on the commands that read a stack; `command` is how other sessions see
  // this one in pg_stat_activity.
  const stackCommand = (parent: Command, name: string, summary: string) =>
    parent
      .command(name)
      .summary(summary)
      .option("--stack <name>", "the stack: stacks/Pulumi.<name>.yaml", "local")
      .option("--database-url <url>", `connect here instead of the stack's database; with a password in it, prefer ${DATABASE_URL_ENV}`)
      .addHelpText("after", `\n${ENVIRONMENT_HELP}`);
  const stackOpts = (flags: StackFlags, cmd: Command) => {
    if (flags.databaseUrl && hasPassword(flags.databaseUrl)) {
      log(`warning: --database-url carries a password, which every local user can read while the command runs (ps, /proc/<pid>/cmdline): put the URL in ${DATABASE_URL_ENV}, or the password in PGPASSWORD, instead`);
    }
    return { stack: flags.stack, databaseUrl: flags.databaseUrl, log, command: commandLine(cmd) };
  };
  const json = "print the result as JSON";

  stackCommand(root, "plan", "show the changes apply would make, with their SQL")
    .description(
      "Show the changes that would bring the database to the stack's declaration, with their SQL, grouped by transaction; " +
        "problems that block them; warnings.",
    )
    .addOption(new Option("--format <format>", "text, json, or markdown (a pull-request comment)").choices(["text", "json", "markdown"]))
    .option("--json", "the same as --format json")
    .addHelpText("after", `\n${PLAN_EXIT_HELP}`)
    .action((flags: StackFlags & { format?: PlanFormat; json?: boolean }, cmd: Command) =>
      run(planHandler({ ...stackOpts(flags, cmd), format: flags.format ?? (flags.json ? "json" : "text") })),
    );

  stackCommand(root, "apply", "apply those changes, each table in one transaction")
    .description(
      "Plan again under the apply locks, then run each table's changes (and the extensions', and the job's) in one transaction, " +
        "and each table's maintenance. Progress goes to stderr as it runs; a summary of what ran to stdout. A unit blocked by a " +
        "problem, or whose transaction fails, is left unchanged and the rest is applied.",
    )
    .option("--json", `${json}: the plan and everything that ran`)
    .addHelpText("after", `\n${APPLY_EXIT_HELP}`)
    .action((flags: StackFlags & { json?: boolean }, cmd: Command) => run(applyHandler({ ...stackOpts(flags, cmd), json: !!flags.json })));

  stackCommand(root, "verify", "health checks to alert on")
    .description(
      "Health checks to alert on: tables partitioned and registered, part_config as declared, partitions premade ahead, " +
        "contiguous and on UTC boundaries, default partitions empty, pruning works (and each declared hot query prunes within its bound), the maintenance job scheduled (running in UTC), " +
        "active and succeeding, retention not deferred too long.",
    )
    .option("--fix", "first move rows out of default partitions (pg_partman's partition_data_proc) and fill gaps between partitions (partition_gap_fill)")
    .option("--json", json)
    .addHelpText("after", `\n${VERIFY_EXIT_HELP}`)
    .action((flags: StackFlags & { json?: boolean; fix?: boolean }, cmd: Command) =>
      run(verifyHandler({ ...stackOpts(flags, cmd), json: !!flags.json, fix: !!flags.fix })),
    );

  stackCommand(root, "status", "partitions, rows, coverage, retention and the maintenance job")
    .description(
      "Per table: partitions (range, size, rows: counted up to 10 MB, estimated beyond), default-partition rows, how far ahead " +
        "partitions exist, the retention horizon, the last maintenance run; the maintenance job and its last run.",
    )
    .option("--json", json)
    .addHelpText("after", `\n${STATUS_EXIT_HELP}`)
    .action((flags: StackFlags & { json?: boolean }, cmd: Command) => run(statusHandler({ ...stackOpts(flags, cmd), json: !!flags.json })));

  const migrate = root
    .command("migrate")
    .summary("move a live table onto partitions without downtime")
    .description(
      "Move a live, unpartitioned table onto its declared partitions without downtime: run prepares, copies, catches up, verifies " +
        "and swaps (resuming after an interruption); status shows progress; rollback restores the original (until finish); " +
        "finish drops the original after confirmation.",
    )
    .addHelpText("after", `\n${MIGRATE_EXIT_HELP}`);
  const migrateCommand = (action: MigrateAction, summary: string, locks: boolean) => {
    const c = stackCommand(migrate, action, summary).argument("<table>", "a table the stack declares (schema optional)").addHelpText("after", `\n${MIGRATE_EXIT_HELP}`);
    if (!locks) return c;
    return c
      .option("--dry-run", "print every SQL statement, change nothing")
      .option(
        "--max-stall <ms>",
        `the longest one attempt at the table's lock may hold up its readers and writers; attempts start at 50 ms and double up to it (10 to 60000, default ${MIGRATE_DEFAULTS.maxStallMs})`,
      )
      .option("--max-lock-wait <ms>", `how long to keep trying for that lock before giving up, changing nothing (--max-stall to 3600000, default ${MIGRATE_DEFAULTS.maxLockWaitMs})`)
      .option("--wait <ms>", `how long to wait for another migrate run, rollback or finish of the table to end (default ${MIGRATE_DEFAULTS.waitMs}: refuse at once, exit 4)`)
      .addOption(new Option("--lock-timeout <ms>", "deprecated: the old name of --max-stall").hideHelp());
  };
  migrateCommand("run", "prepare, copy, catch up, verify and swap (resumes after an interruption)", true)
    .option("--batch-size <rows>", `rows per copy batch (default ${MIGRATE_DEFAULTS.batchSize})`)
    .option("--sleep <ms>", `pause between batches (default ${MIGRATE_DEFAULTS.sleepMs})`)
    .option("--json", json)
    .action(migrateAction("run"));
  migrateCommand("status", "the migration's phase and progress", false).option("--json", json).action(migrateAction("status"));
  migrateCommand("rollback", "restore the original table (until finish), or abandon a migration not swapped yet", true).action(migrateAction("rollback"));
  migrateCommand("finish", "drop the original table kept since the swap, after confirmation", true)
    .option("--yes", "do not ask for confirmation (needed when not on a terminal)")
    .action(migrateAction("finish"));

  function migrateAction(action: MigrateAction) {
    return async (table: string, flags: MigrateFlags, cmd: Command) => {
      if (flags.lockTimeout !== undefined) {
        if (flags.maxStall !== undefined) cmd.error("error: --lock-timeout is the deprecated name of --max-stall: give --max-stall only");
        log("--lock-timeout is deprecated: it is now --max-stall (the longest one lock attempt holds the table up); --max-lock-wait bounds the whole wait");
      }
      const num = (name: string, v: string | undefined, min: number, unit = "") => {
        if (v === undefined) return undefined;
        if (!/^\d+$/.test(v) || Number(v) < min) cmd.error(`error: --${name} ${v} must be a whole number${unit}${min > 0 ? ` ≥ ${min}` : ""}`);
        return Number(v);
      };
      const maxStallMs = num("max-stall", flags.maxStall ?? flags.lockTimeout, 0, " of milliseconds");
      const maxLockWaitMs = num("max-lock-wait", flags.maxLockWait, 0, " of milliseconds");
      const waitMs = num("wait", flags.wait, 0, " of milliseconds");
      const limits = lockLimitProblems({ maxStallMs: maxStallMs ?? MIGRATE_DEFAULTS.maxStallMs, maxLockWaitMs: maxLockWaitMs ?? MIGRATE_DEFAULTS.maxLockWaitMs, waitMs });
      if (limits.length > 0) cmd.error(`error: ${limits.join("\n")}`);
      exit(
        await migrateHandler(action, table, {
          ...stackOpts(flags, cmd),
          json: !!flags.json,
          dryRun: !!flags.dryRun,
          yes: !!flags.yes,
          batchSize: num("batch-size", flags.batchSize, 1),
          sleepMs: num("sleep", flags.sleep, 0),
          maxStallMs,
          maxLockWaitMs,
          waitMs,
        }),
      );
    };
  }

  stackCommand(root, "archive", "dump expired partitions, verify each dump, then drop them")
    .description(
      "Dump each expired partition (in the table's retentionSchema, or attached past the retention horizon) to " +
        "<dir>/<schema>.<partition>.dump with a .sha256 beside it, verify the dump, and only then drop the partition; " +
        "a failed dump drops nothing.",
    )
    .argument("<table>", "a table the stack declares (schema optional)")
    .requiredOption("--to <dir>", "where the dumps and their .sha256 files go (created 0700 if missing)")
    .option("--dry-run", "list what would be archived and the SQL, change nothing")
    .option("--json", json)
    .addHelpText("after", `\n${ARCHIVE_EXIT_HELP}`)
    .action((table: string, flags: StackFlags & { to: string; dryRun?: boolean; json?: boolean }, cmd: Command) =>
      run(archiveHandler(table, { ...stackOpts(flags, cmd), to: flags.to, dryRun: !!flags.dryRun, json: !!flags.json })),
    );

  const local = root
    .command("local")
    .summary("the embedded PostgreSQL cluster --stack local uses")
    .description(
      "The embedded PostgreSQL 15 cluster (pg_partman 4.7.2 and 5.2.4, pg_cron) used by --stack local. " +
        "On Debian as root, start installs what is missing.",
    );
  // Exit codes as localHandler (commands/local.ts) returns them.
  const localActions: [LocalAction, string, string][] = [
    ["start", "start it, creating it (and installing what is missing) first", "0  running\n  1  error"],
    ["stop", "stop it; its data stays", "0  stopped (or there was none)\n  1  error"],
    ["url", "print its URL with the superuser's password, for your own psql \"$(npx partman-stack local url)\" (it is in the output: mind where that goes)", "0  printed\n  1  error, or the cluster is not running"],
    ["status", "whether it is running, its folder, port, URL (without the password) and password file", "0  running\n  3  stopped, or not created yet\n  1  error"],
  ];
  for (const [action, summary, exitCodes] of localActions) {
    local
      .command(action)
      .description(summary)
      .addHelpText("after", `\nExit codes:\n  ${exitCodes}`)
      .action(() => run(localHandler(action, { log })));
  }
  return root;
}

const ENVIRONMENT_HELP = `Environment:
  ${DATABASE_URL_ENV}  the database URL when --database-url is not given; unlike an argument,
                              it is not shown to other local users (ps, /proc/<pid>/cmdline)
  PGPASSWORD                  the password, when the URL or the stack's database names none`;

/** A password in the URL's user info (user:password@) or as its password= parameter. */
function hasPassword(url: string): boolean {
  const q = url.indexOf("?");
  const authority = (q < 0 ? url : url.slice(0, q)).replace(/^[^:/]+:\/\//, "").split("/")[0];
  return /:[^@]+@/.test(authority) || new URLSearchParams(q < 0 ? "" : url.slice(q + 1)).has("password");
}

interface MigrateFlags extends StackFlags {
  json?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  batchSize?: string;
  sleep?: string;
  maxStall?: string;
  maxLockWait?: string;
  wait?: string;
  lockTimeout?: string;
}

/** The command as typed, without the options: `apply`, `migrate run public.events`. */
function commandLine(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return [...names, ...cmd.args].join(" ");
}
