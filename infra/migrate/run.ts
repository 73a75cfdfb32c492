// `migrate run | status | rollback | finish` as library functions over a session: each returns
// what happened, for the CLI to print and for tests to check.

import type { Session } from "../db/session";
import type { StackSpec, TableSpec } from "../config/types";
import { quoteIdent as q } from "../config/identifiers";
import { migrationNameProblem, STAGING } from "../config/derived-names";
import { unsupportedShape } from "../config/shape-support";
import { createExtensionSql } from "../partman/extension";
import { objectsToInstall } from "../partman/maintenance-objects";
import { partmanInstall, type PartmanInstall } from "../partman/version";
import { introspect } from "../engine/introspect";
import { requireTrustedSchema } from "../db/schema-trust";
import { fenceHolder, holdFences, migrateFence, type FenceHold } from "../engine/fence";
import { checkpoint, executor, type Executor } from "./executor";
import {
  columnsUnchanged, copyBatch, finish, maintainAfterSwap, MigrationRefused, pendingChanges, preconditions, prepare, readState, replayBatch, rollback, swap,
  type LockLimits, type Migration, type MigrationState, type SwapResult,
} from "./migration";
import { migrationNames, type MigrationNames } from "./names";
import { etaSeconds, type Progress } from "./progress";
import { inspectTable } from "./source";
import { verifyCopy, type Verification } from "./verify";

export { MigrationRefused };

export interface MigrateOptions extends LockLimits {
  /** How long to wait for another run, rollback or finish of the table to end (0: refuse at once). */
  waitMs: number;
  batchSize: number;
  /** Pause between batches, to leave the server room. */
  sleepMs: number;
  dryRun: boolean;
  log: (line: string) => void;
  /** Dry runs print here. */
  print: (sql: string) => void;
  progress?: (p: Progress) => void;
}

/** What rollback and finish take. */
export type LockOptions = Pick<MigrateOptions, "dryRun" | "maxStallMs" | "maxLockWaitMs" | "waitMs" | "log" | "print">;

/** Another `migrate run`, `rollback` or `finish` of the same table holds its migrate lock: exit
 *  code 4 (MIGRATE_EXIT_HELP), so a scheduler can tell "try later" from a refusal. */
export class MigrationBusy extends MigrationRefused {
  constructor(problems: string[]) {
    super(problems, { exitCode: 4 });
  }
}

export const MIGRATE_DEFAULTS = { batchSize: 10_000, sleepMs: 0, maxStallMs: 2_000, maxLockWaitMs: 300_000, waitMs: 0 };
/** Changes left for the swap to replay under its lock. */
const SWAP_TAIL = 500;
const MAX_STALL_MS = { min: 10, max: 60_000 };
const MAX_LOCK_WAIT_MS = { max: 3_600_000 };

/** What is wrong with the lock limits, named by their CLI options (--max-stall, --max-lock-wait, --wait). */
export function lockLimitProblems(o: LockLimits & { waitMs?: number }): string[] {
  if (o.waitMs !== undefined && (!Number.isInteger(o.waitMs) || o.waitMs < 0 || o.waitMs > MAX_LOCK_WAIT_MS.max)) {
    return [`--wait ${o.waitMs} must be a whole number of milliseconds from 0 to ${MAX_LOCK_WAIT_MS.max}: how long to wait for another migrate of the table to end (default 0: refuse at once)`];
  }
  const whole = (v: number) => Number.isInteger(v) && v >= 0;
  if (!whole(o.maxStallMs) || o.maxStallMs < MAX_STALL_MS.min || o.maxStallMs > MAX_STALL_MS.max) {
    return [
      `--max-stall ${o.maxStallMs} must be a whole number of milliseconds from ${MAX_STALL_MS.min} to ${MAX_STALL_MS.max}: ` +
        `the longest one attempt at a lock may hold up the table's readers and writers (default ${MIGRATE_DEFAULTS.maxStallMs})`,
    ];
  }
  if (!whole(o.maxLockWaitMs) || o.maxLockWaitMs < o.maxStallMs || o.maxLockWaitMs > MAX_LOCK_WAIT_MS.max) {
    return [
      `--max-lock-wait ${o.maxLockWaitMs} must be a whole number of milliseconds from --max-stall (${o.maxStallMs}) to ${MAX_LOCK_WAIT_MS.max}: ` +
        `how long swap, rollback and finish keep trying for their locks before giving up (default ${MIGRATE_DEFAULTS.maxLockWaitMs})`,
    ];
  }
  return [];
}

export function declaredTable(spec: StackSpec, name: string): TableSpec {
  const t = spec.tables.find((x) => x.name === name || x.table === name);
  if (!t) {
    throw new MigrationRefused([
      `table ${name} is not declared in stack ${spec.stack} (declared: ${spec.tables.map((x) => x.name).join(", ") || "none"}); ` +
        `declare it in stacks/Pulumi.${spec.stack}.yaml with its interval, premake and DDL file first: the migration takes its partitioning from there`,
    ]);
  }
  return t;
}

/** The migration of a declared table, and its recorded state (null: none in progress). `action`:
 *  a command that changes the migration (run, rollback, finish) takes the table's migrate lock
 *  first, held until release() (see holdMigrateLock); status and finish's preview read only. */
async function open(
  session: Session,
  spec: StackSpec,
  name: string,
  opts: LockOptions,
  action: "run" | "rollback" | "finish" | null = null,
): Promise<{ m: Migration; state: MigrationState | null; release(): Promise<void> }> {
  const limits = lockLimitProblems(opts);
  if (limits.length > 0) throw new MigrationRefused(limits);
  const table = declaredTable(spec, name);
  const tooLong = migrationNameProblem(table);
  if (tooLong) throw new MigrationRefused([tooLong]);
  if (table.subpartition) {
    throw new MigrationRefused([
      `table ${table.name} declares subpartition, which migrate does not build yet (its copy would need create_sub_parent before the swap); ` +
        `migrate onto a set without subpartition, or create the sub-partitioned table under a new name with apply and copy the rows into it`,
    ]);
  }
  const exec = executor(session.target, opts.dryRun, opts.print);
  const state = await introspect(session, { ...spec, tables: [] });
  // The copy belongs to the live table's owner, whom the acting role acts for.
  await requireTrustedSchema(session.target, STAGING, true);
  const version = spec.database.partmanVersion ?? state.partmanDefault;
  if (!state.partman && (!version || !state.partmanAvailable.includes(version))) throw new MigrationRefused([`pg_partman ${version ?? ""} is not available on this server; install it first`]);
  const partman = state.partman ?? partmanInstall(version!, "partman");
  // Refused before the extension is created: nothing changes.
  const unsupported = unsupportedShape(partman.version, table, "installed");
  if (unsupported) throw new MigrationRefused([unsupported]);
  if (!state.partman) for (const sql of createExtensionSql("partman", spec.database.partmanVersion)) await exec.write(sql);
  // The swap's maintenance run and the lock helper are partman-stack's own procedures.
  const install = objectsToInstall(partman, state.maintenanceObjects);
  if (install) await exec.write(install);
  const n = migrationNames(table);
  // Everything below is read under the lock: another run may have moved the migration on meanwhile.
  const lock = action && !opts.dryRun ? await holdMigrateLock(session, n.key, action, opts.waitMs) : null;
  try {
    return { ...(await inspect(session, spec, table, partman, n, exec, opts, lock)), release: () => lock?.release() ?? Promise.resolve() };
  } catch (err) {
    await lock?.release();
    throw err;
  }
}

/** open()'s reading of the live table and the recorded state. */
async function inspect(
  session: Session, spec: StackSpec, table: TableSpec, partman: PartmanInstall, n: MigrationNames, exec: Executor, opts: LockOptions, lock: FenceHold | null,
): Promise<{ m: Migration; state: MigrationState | null }> {
  const source = await inspectTable(session.target, table.schema, table.table);
  if (!source.actsAsOwner) {
    throw new MigrationRefused([
      `table ${n.key} belongs to role ${source.owner}, and partman-stack acts as ${session.role} (the stack's owner role, which owns every table it manages): ` +
        `hand the table over first (ALTER TABLE ${n.source} OWNER TO ${q(session.role)}; the partitioned copy and its partitions then belong to it too), ` +
        `or GRANT ${q(source.owner)} TO ${q(session.role)}`,
    ]);
  }
  // After the swap the live table is the partitioned one, whose key includes the control column:
  // a migration keeps tracking rows by the original key it started with.
  const started = await readState(exec, n);
  if (started) source.keyColumns = started.key_columns;
  const type = (c: string) => source.columns.find((x) => x.name === c)?.type ?? "text";
  const m: Migration = {
    exec,
    table,
    partman,
    names: n,
    source,
    key: { keyColumns: source.keyColumns, keyTypes: source.keyColumns.map(type), control: table.control, controlType: type(table.control) },
    columns: source.columns.filter((c) => !c.generated).map((c) => c.name),
    preparedColumns: started?.source_columns ?? source.columns,
    lock: { maxStallMs: opts.maxStallMs, maxLockWaitMs: opts.maxLockWaitMs },
    log: opts.log,
    maintenance: spec.maintenance,
    phase: (what: string) => lock?.setPhase(what) ?? Promise.resolve(),
  };
  return { m, state: started };
}

/** The table's migrate lock (a fence only the owner can hold, on a connection of its own: a process
 *  that dies releases it): taken at once, or within `waitMs`, else MigrationBusy naming the holder
 *  (its pid, what it is doing, user, client, how long it has run). */
async function holdMigrateLock(session: Session, table: string, action: string, waitMs: number): Promise<FenceHold> {
  const fence = migrateFence(table);
  const hold = await holdFences(session, [fence], { deadline: Date.now() + waitMs, purpose: `migrate ${action} ${table}` });
  const taken = hold.unavailable[0];
  if (!taken) return hold;
  await hold.release();
  throw busy(table, taken.holder, waitMs);
}

function busy(table: string, holder: string | null, waitedMs: number): MigrationBusy {
  return new MigrationBusy([
    `another migrate of ${table} is running: ${holder ?? "a session that has finished meanwhile"}; ` +
      `nothing was changed. Wait for it to end (migrate status ${table} shows its progress and who runs it), or give --wait <ms> to wait for it` +
      (waitedMs > 0 ? ` (waited ${waitedMs} ms)` : ""),
  ]);
}

export interface RunResult {
  phase: "swapped";
  table: string;
  alreadySwapped: boolean;
  rowsCopied: number;
  changesApplied: number;
  verification: Verification | null;
  swap: SwapResult | null;
  /** The original, kept until `migrate finish`. */
  retired: string;
}

export async function migrateRun(session: Session, spec: StackSpec, name: string, opts: MigrateOptions): Promise<RunResult> {
  const opened = await open(session, spec, name, opts, "run");
  try {
    return await run(opened, opts);
  } finally {
    await opened.release();
  }
}

async function run(opened: { m: Migration; state: MigrationState | null }, opts: MigrateOptions): Promise<RunResult> {
  const m = opened.m;
  const n = m.names;
  let state = opened.state;
  if (state?.phase === "swapped") {
    return { phase: "swapped", table: n.key, alreadySwapped: true, rowsCopied: Number(state.rows_copied), changesApplied: Number(state.changes_applied), verification: null, swap: null, retired: `${n.schema}.${n.retiredName}` };
  }
  if (!state) {
    const nulls = m.source.columns.some((c) => c.name === m.table.control)
      ? (await m.exec.read<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${n.source} WHERE ${q(m.table.control)} IS NULL) AS any`)).rows[0].any
      : false;
    const problems = await preconditions(m, nulls);
    if (problems.length > 0) throw new MigrationRefused(problems);
    opts.log(`preparing: the partitioned copy of ${n.key} and change capture`);
    await m.phase("preparing");
    await prepare(m);
    state = (await readState(m.exec, n)) ?? dryRunState(m);
  } else {
    // Resuming: a column changed since prepare would fail the copy, or be lost by it.
    columnsUnchanged(m, m.source.columns);
  }

  const started = Date.now();
  const copiedBefore = Number(state.rows_copied);
  const report = async () => {
    const copied = Number(state!.rows_copied);
    const seconds = (Date.now() - started) / 1000;
    opts.progress?.({ copied, total: Math.max(Number(state!.source_rows), copied), rowsPerSecond: seconds > 0 ? (copied - copiedBefore) / seconds : 0, pendingChanges: await pendingChanges(m) });
  };
  await m.phase("copying");
  while (!state.copy_done) {
    await copyBatch(m, state, opts.batchSize);
    // Keep the change log short while copying; keys past the watermark are dropped unreplayed.
    await replayBatch(m, (await readState(m.exec, n)) ?? state, opts.batchSize);
    if (m.exec.dryRun) break;
    state = (await readState(m.exec, n))!;
    await report();
    if (opts.sleepMs > 0) await new Promise((r) => setTimeout(r, opts.sleepMs));
  }

  const copyState = m.exec.dryRun ? { ...state, copy_done: true } : state;
  // Replays until at most SWAP_TAIL changes wait, so the swap replays little under its lock.
  const catchUp = async () => {
    for (let i = 0; i < 10_000; i++) {
      const replayed = await replayBatch(m, copyState, opts.batchSize);
      if (m.exec.dryRun || (replayed < opts.batchSize && (await pendingChanges(m)) <= SWAP_TAIL)) return;
      if (opts.sleepMs > 0) await new Promise((r) => setTimeout(r, opts.sleepMs));
    }
  };
  opts.log(`catching up with the changes captured during the copy`);
  await m.phase("catching up");
  await catchUp();

  let verification: Verification | null = null;
  if (!m.exec.dryRun) {
    opts.log(`verifying the copy against ${n.key} (row counts per partition and a checksum of every row)`);
    await m.phase("verifying");
    verification = await verifyCopy(m.exec.db, m);
    if (!verification.ok) {
      throw new MigrationRefused([
        `the copy of ${n.key} does not match it (live: ${verification.rows} rows, checksum ${verification.checksum}; copy: ${verification.copyRows} rows, checksum ${verification.copyChecksum}; ` +
          `partitions that differ: ${verification.mismatched.join(", ") || "none"}); not swapping. Run again to re-verify, or roll back`,
      ]);
    }
    if (verification.defaultRows > 0) opts.log(`${verification.defaultRows} row(s) fall outside the declared partitions and are in the default partition`);
  } else {
    opts.print(`-- verify, in one REPEATABLE READ snapshot: count(*) and sum(hashtextextended(row::text, 0)) of ${n.source} and ${n.staged}, and rows per partition range, over keys with no pending change`);
  }

  // Verifying a large table takes a while; catch up with what was written meanwhile.
  await catchUp();
  opts.log(`swapping ${n.key} for its partitioned copy (each lock attempt holds the table up at most ${m.lock.maxStallMs} ms; giving up after ${m.lock.maxLockWaitMs} ms)`);
  await m.phase("swapping");
  await checkpoint("before-swap");
  const result = await swap(m);
  await checkpoint("after-swap");
  await m.phase("maintenance after the swap");
  try {
    await maintainAfterSwap(m);
  } catch (err) {
    opts.log(`warning: pg_partman maintenance after the swap failed (${(err as Error).message}); partman-stack apply or the maintenance job runs it again`);
  }
  const after = m.exec.dryRun ? state : (await readState(m.exec, n))!;
  return {
    phase: "swapped",
    table: n.key,
    alreadySwapped: false,
    rowsCopied: Number(after.rows_copied),
    changesApplied: Number(after.changes_applied),
    verification,
    swap: m.exec.dryRun ? null : result,
    retired: `${n.schema}.${n.retiredName}`,
  };
}

function dryRunState(m: Migration): MigrationState {
  const now = new Date();
  return {
    source: m.names.key, phase: "copying", key_columns: m.key.keyColumns, control: m.table.control, copy_done: false, watermark: null,
    rows_copied: "0", changes_applied: "0", source_rows: String(m.source.estimatedRows), renamed: [], swap_lock_ms: null, source_columns: null,
    started_at: now, copy_started_at: now, swapped_at: null, updated_at: now,
  };
}

export interface StatusResult {
  table: string;
  phase: "none" | "copying" | "catching-up" | "swapped";
  rowsCopied: number;
  /** Rows still to copy (from the live table's size estimate); 0 once the copy is done. */
  rowsRemaining: number;
  rowsPerSecond: number;
  etaSeconds: number | null;
  pendingChanges: number;
  swapLockMs: number | null;
  retired: string | null;
  startedAt: string | null;
  /** The session of the `migrate run`, `rollback` or `finish` holding the table's migrate lock
   *  (its pid, what it is doing, user, client, since when); null: none is running. */
  runningBy: string | null;
}

export async function migrateStatus(session: Session, spec: StackSpec, name: string): Promise<StatusResult> {
  const { m, state } = await open(session, spec, name, { ...MIGRATE_DEFAULTS, dryRun: true, log: () => {}, print: () => {} });
  const runningBy = await fenceHolder(session.target, migrateFence(m.names.key));
  if (!state) return { table: m.names.key, phase: "none", rowsCopied: 0, rowsRemaining: 0, rowsPerSecond: 0, etaSeconds: null, pendingChanges: 0, swapLockMs: null, retired: null, startedAt: null, runningBy };
  const copied = Number(state.rows_copied);
  const seconds = (state.updated_at.getTime() - state.copy_started_at.getTime()) / 1000;
  const rate = seconds > 0 ? copied / seconds : 0;
  const remaining = state.copy_done ? 0 : Math.max(0, Number(state.source_rows) - copied);
  const pending = await pendingChanges(m, state.phase === "swapped" ? m.names.reverseChanges : m.names.changes);
  return {
    table: m.names.key,
    phase: state.phase === "swapped" ? "swapped" : state.copy_done ? "catching-up" : "copying",
    rowsCopied: copied,
    rowsRemaining: remaining,
    rowsPerSecond: rate,
    etaSeconds: state.copy_done ? 0 : etaSeconds({ copied, total: copied + remaining, rowsPerSecond: rate, pendingChanges: pending }),
    pendingChanges: pending,
    swapLockMs: state.swap_lock_ms,
    retired: state.phase === "swapped" ? `${m.names.schema}.${m.names.retiredName}` : null,
    startedAt: state.started_at.toISOString(),
    runningBy,
  };
}

export async function migrateRollback(session: Session, spec: StackSpec, name: string, opts: LockOptions): Promise<"abandoned" | "restored"> {
  const { m, state, release } = await open(session, spec, name, opts, "rollback");
  try {
    if (!state) throw new MigrationRefused([`no migration of ${m.names.key} is in progress`]);
    await m.phase("rolling back");
    return await rollback(m, state);
  } finally {
    await release();
  }
}

export interface FinishPreview {
  table: string;
  retired: string;
  retiredRows: number;
  retiredBytes: number;
  backupCommand: string;
}

/** What finish will drop, and how to back it up first. */
export async function finishPreview(session: Session, spec: StackSpec, name: string): Promise<FinishPreview> {
  const { m, state } = await open(session, spec, name, { ...MIGRATE_DEFAULTS, dryRun: true, log: () => {}, print: () => {} });
  // Before anything that could wait for another command's locks: that one is named instead.
  const holder = await fenceHolder(session.target, migrateFence(m.names.key));
  if (holder) throw busy(m.names.key, holder, 0);
  if (state?.phase !== "swapped") {
    throw new MigrationRefused([`${m.names.key} has not been swapped yet (${state ? "the copy is still running: migrate run" : "no migration in progress"}); finish comes after the swap`]);
  }
  const size = (await m.exec.read<{ rows: string; bytes: string }>(`SELECT (SELECT count(*) FROM ${m.names.retired}) AS rows, pg_total_relation_size('${m.names.retired}') AS bytes`)).rows[0];
  const db = session.target;
  return {
    table: m.names.key,
    retired: `${m.names.schema}.${m.names.retiredName}`,
    retiredRows: Number(size.rows),
    retiredBytes: Number(size.bytes),
    backupCommand: `pg_dump --format=custom --table='${m.names.schema}.${m.names.retiredName}' --file='${m.names.retiredName}.dump' --host='${db.host}' --port=${db.port} --username='${db.user}' '${db.database}'`,
  };
}

export async function migrateFinish(session: Session, spec: StackSpec, name: string, opts: LockOptions): Promise<void> {
  const { m, state, release } = await open(session, spec, name, opts, "finish");
  try {
    if (state?.phase !== "swapped") throw new MigrationRefused([`${m.names.key} has not been swapped yet; finish comes after the swap`]);
    await m.phase("finishing");
    await finish(m);
  } finally {
    await release();
  }
}
