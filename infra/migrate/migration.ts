// The steps of moving a live, unpartitioned table onto a pg_partman partition set without losing a
// write: prepare (the partitioned copy in the staging schema, change capture on the live table),
// copy in key order, replay captured changes, verify, swap under a short lock, and roll back or
// finish. Each step is one transaction and records its progress in partman_migrate.migrations, so
// a run killed at any point resumes where it stopped. Swap, rollback and finish take their locks
// through partman_stack.lock_in_order, the lock helper maintenance and archive use too.

import fs from "node:fs";
import path from "node:path";
import { quoteIdent as q, quoteLiteral } from "../config/identifiers";
import { sqlStatements } from "../config/sql-grammar";
import { PACKAGE_ROOT } from "../package-root";
import { userSqlSearchPath } from "../db/session";
import type { MaintenanceSpec, TableSpec } from "../config/types";
import { approxMillis, parseInterval } from "../config/interval";
import { ProblemList } from "../config/errors";
import { lockInOrderSql } from "../engine/lock-in-order";
import { assertTrustedSchemaSql } from "../db/schema-trust";
import { controlTimeSql } from "../partman/codecs";
import { createParentSql } from "../partman/create";
import { runTableMaintenanceSql } from "../partman/maintenance-objects";
import type { PartmanInstall } from "../partman/version";
import { copyBatchSql, createCaptureSql, dropCaptureSql, replaySql, type CaptureTarget, type KeyShape } from "./capture";
import { checkpoint, type Executor } from "./executor";
import { STAGING } from "../config/derived-names";
import { withKeyColumn } from "./index-definition";
import type { MigrationNames } from "./names";
import { clashingNames, describeColumns, inspectTable, type Column, type SourceTable } from "./source";
import { stagedDdl, stagedStatement } from "./staged-ddl";

export class MigrationRefused extends ProblemList {
  constructor(problems: string[], options: { exitCode?: number } = {}) {
    super(problems, () => "migration refused:", options);
  }
}

export interface MigrationState {
  source: string;
  phase: "copying" | "swapped";
  key_columns: string[];
  control: string;
  copy_done: boolean;
  watermark: string[] | null;
  rows_copied: string;
  changes_applied: string;
  source_rows: string;
  renamed: Renamed[];
  swap_lock_ms: number | null;
  /** The live table's columns when prepare built the copy (null: prepared by an older version). */
  source_columns: Column[] | null;
  started_at: Date;
  copy_started_at: Date;
  swapped_at: Date | null;
  updated_at: Date;
}

interface Renamed {
  kind: "index" | "sequence";
  from: string;
  to: string;
}

export interface Migration {
  exec: Executor;
  table: TableSpec;
  partman: PartmanInstall;
  names: MigrationNames;
  source: SourceTable;
  key: KeyShape;
  /** Columns copied: the live table's, without generated ones. */
  columns: string[];
  /** The live table's columns the copy was built for: a change to them makes the swap refuse. */
  preparedColumns: Column[];
  lock: LockLimits;
  log: (line: string) => void;
  maintenance: MaintenanceSpec;
  /** Says what the command is doing now ("copying", "swapping"), to whoever finds the table's
   *  migrate lock held. */
  phase(what: string): Promise<void>;
}

/** Bounds on how swap, rollback and finish wait for their locks (partman_stack.lock_in_order). */
export interface LockLimits {
  /** The longest one attempt queues, and so holds up the table's readers and writers. */
  maxStallMs: number;
  /** The longest all attempts together take before the step gives up and changes nothing. */
  maxLockWaitMs: number;
}

const STATE_SQL = path.join(PACKAGE_ROOT, "sql/migrate/state.sql");
/** The most partitions prepare makes: sparse ids on a narrow interval (or list values) would
 *  otherwise make one for every id range, or value, between the lowest and the highest. */
const MAX_PREPARED_PARTITIONS = 10_000;
const FORWARD_TRIGGER = "partman_migrate_capture";
const REVERSE_TRIGGER = "partman_migrate_reverse";

export function forwardCapture(n: MigrationNames): CaptureTarget {
  return { log: n.changes, fnSchema: STAGING, fn: n.capture, on: n.source, trigger: FORWARD_TRIGGER };
}

function reverseCapture(n: MigrationNames): CaptureTarget {
  return { log: n.reverseChanges, fnSchema: STAGING, fn: n.reverseCapture, on: n.source, trigger: REVERSE_TRIGGER };
}

export async function readState(exec: Executor, n: MigrationNames): Promise<MigrationState | null> {
  const exists = await exec.read<{ ok: boolean }>(`SELECT to_regclass('${STAGING}.migrations') IS NOT NULL AS ok`);
  if (!exists.rows[0].ok) return null;
  const r = await exec.read<MigrationState>(`SELECT * FROM ${q(STAGING)}.migrations WHERE source = $1`, [n.key]);
  return r.rows[0] ?? null;
}

/** What the live table must be for a safe migration; each problem says what to do. */
export async function preconditions(m: Omit<Migration, "key" | "columns">, controlNulls: boolean): Promise<string[]> {
  const { source, table: t, names: n } = m;
  const problems: string[] = [];
  if (source.relkind === null) return [`table ${n.key} does not exist: there is nothing to migrate (partman-stack apply creates it partitioned)`];
  if (source.relkind === "p") return [`table ${n.key} is already partitioned: there is nothing to migrate`];
  if (source.relkind !== "r") return [`${n.key} is not a table (relkind ${source.relkind})`];
  if (source.keyColumns.length === 0) {
    problems.push(`table ${n.key} has no primary key; the migration copies and tracks rows by it: add one (ALTER TABLE ${n.source} ADD PRIMARY KEY (…)) and run again`);
  }
  if (!source.columns.some((c) => c.name === t.control)) problems.push(`table ${n.key} has no column ${t.control}, the declared control column`);
  if (controlNulls) {
    problems.push(`table ${n.key} has rows with ${t.control} NULL, which no partition can hold: fill them (UPDATE … SET ${t.control} = … WHERE ${t.control} IS NULL) and make the column NOT NULL`);
  }
  for (const fk of source.referencedBy) {
    problems.push(
      `foreign key ${fk.name} on ${fk.table} references ${n.key} (${fk.definition}); a foreign key to a partitioned table must reference its whole primary key, ` +
        `which includes ${t.control}, so the swap would break it: drop it first (ALTER TABLE ${fk.table} DROP CONSTRAINT ${q(fk.name)}), ` +
        `and after migrate finish re-create it on (…, ${t.control}) or enforce it in the application`,
    );
  }
  return problems;
}

/** Creates the partitioned copy, registers it with pg_partman, and starts capturing changes. */
export async function prepare(m: Migration): Promise<void> {
  const { exec, table: t, names: n, source, partman } = m;
  const staged = { ...t, schema: STAGING };
  // The copy's partitions start at the oldest row: the lowest id, or the time of the oldest key
  // (ORDER BY rather than min(): PostgreSQL before 18 has no min(uuid)).
  const end = (order: "ASC" | "DESC") => `LEFT JOIN (SELECT ${q(t.control)} AS v FROM ${n.source} ORDER BY 1 ${order} LIMIT 1) ${order === "ASC" ? "lo" : "hi"} ON true`;
  const { min: minControl, max: maxControl, start } = (
    await exec.read<{ min: string | null; max: string | null; start: string | null }>(
      `SELECT lo.v::text AS min, hi.v::text AS max, (${t.kind === "id" ? "lo.v" : controlTimeSql(partman, t, "lo.v")})::text AS start
         FROM (SELECT) one ${end("ASC")} ${end("DESC")}`,
    )
  ).rows[0];
  const premake = preparePremake(t, minControl, maxControl);
  if (premake > MAX_PREPARED_PARTITIONS) {
    throw new MigrationRefused([
      `${n.key}'s ${t.control} spans ${minControl} … ${maxControl}: the copy would need ${premake + 1} partitions of ${t.kind === "id" && t.type === "list" ? "one value" : t.interval.text} each ` +
        `(more than ${MAX_PREPARED_PARTITIONS}, which no partition set should hold), so the live table is left as it is: declare a wider interval${t.kind === "id" && t.type === "list" ? " (type: range)" : ""}`,
    ]);
  }
  const searchPath = (await exec.read<{ path: string }>(`SELECT current_setting('search_path') AS path`)).rows[0].path;
  // A state table from before source_columns (ALTER … IF NOT EXISTS would lock it every time).
  const upgrade = await exec.read<{ old: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = to_regclass('${STAGING}.migrations')
        AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'source_columns')) AS old`,
  );
  if (upgrade.rows[0].old) await exec.write(`ALTER TABLE ${q(STAGING)}.migrations ADD COLUMN source_columns jsonb`);
  try {
    await exec.transaction(async () => {
      // Bounds the wait of the capture trigger below: it keeps writers out while it waits.
      await exec.write(`SET LOCAL lock_timeout = '${m.lock.maxStallMs}ms'`);
      for (const { text } of sqlStatements(fs.readFileSync(STATE_SQL, "utf8"))) await exec.write(text);
      await exec.write(assertTrustedSchemaSql(STAGING, true));
      // A second guard besides stagedDdl: an unqualified name finds the copy before the live table.
      await exec.write(`SELECT set_config('search_path', $1, true)`, [`${q(STAGING)}, ${userSqlSearchPath(t.schema)}`]);
      for (const sql of t.ddlSql !== null ? stagedDdl(t, t.ddlSql) : await copiedDdl(m)) await exec.write(sql);
      // Back before create_parent, which saves and restores search_path for the session, not the transaction.
      await exec.write(`SELECT set_config('search_path', $1, true)`, [searchPath]);
      await exec.write(`ALTER TABLE ${n.staged} OWNER TO ${q(source.owner)}`);
      for (const sql of grantSql(source.grants, n.staged)) await exec.write(sql);
      if (!exec.dryRun) await checkColumns(m);
      await exec.write(createParentSql(partman, { ...staged, startPartition: start, defaultPartition: true, premake }));
      // No retention while migrating, and no maintenance until the swap (see maintainAfterSwap).
      await exec.write(
        `UPDATE ${q(partman.schema)}.part_config SET premake = ${t.premake}, retention = NULL, automatic_maintenance = 'off', infinite_time_partitions = true WHERE parent_table = ${quoteLiteral(n.stagedText)}`,
      );
      await moveChildren(m);
      for (const sql of createCaptureSql(forwardCapture(n), m.key)) await exec.write(sql);
      await checkpoint("prepare-before-commit");
      await exec.write(
        `INSERT INTO ${q(STAGING)}.migrations (source, phase, key_columns, control, source_rows, source_columns) VALUES ($1, 'copying', $2, $3, $4, $5)`,
        [n.key, m.key.keyColumns, t.control, source.estimatedRows, JSON.stringify(source.columns)],
      );
    });
  } catch (err) {
    if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
    throw new MigrationRefused([
      `prepare: the change-capture trigger could not be added to ${n.key} within --max-stall (${m.lock.maxStallMs} ms): another session's transaction kept it locked ` +
        `(a long write, or a session idle in a transaction after writing to it); nothing changed. Run again`,
    ]);
  }
}

function grantSql(grants: SourceTable["grants"], on: string): string[] {
  return grants.map((g) => `GRANT ${g.privilege} ON ${on} TO ${g.grantee === "PUBLIC" ? "PUBLIC" : q(g.grantee)}${g.grantable ? " WITH GRANT OPTION" : ""}`);
}

/** Without a DDL file, the copy takes the live table's definition: columns, defaults, identity,
 *  CHECK and NOT NULL constraints, indexes and outgoing foreign keys. The primary key, and any
 *  unique index, gains the control column, because a partitioned table can only enforce
 *  uniqueness that includes its partition key. */
async function copiedDdl(m: Migration): Promise<string[]> {
  const { exec, names: n, table: t, source } = m;
  const like = ["DEFAULTS", "CONSTRAINTS", "IDENTITY", "GENERATED", "STORAGE", "COMMENTS", "STATISTICS"].map((x) => `INCLUDING ${x}`).join(" ");
  const key = [...new Set([...source.keyColumns, t.control])];
  const sql = [
    `CREATE TABLE ${n.staged} (LIKE ${n.source} ${like}) PARTITION BY ${t.kind === "id" && t.type === "list" ? "LIST" : "RANGE"} (${q(t.control)})`,
    `ALTER TABLE ${n.staged} ADD PRIMARY KEY (${key.map(q).join(", ")})`,
  ];
  const indexes = await exec.read<{ name: string; def: string; unique: boolean; has_control: boolean; exclusion: boolean }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisunique AS unique, i.indisexclusion AS exclusion,
            (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attname = $1) = ANY (i.indkey) AS has_control
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = ${n.sourceLiteral}::regclass AND NOT i.indisprimary ORDER BY 1`,
    [t.control],
  );
  for (const ix of indexes.rows) {
    if (ix.exclusion) {
      m.log(`warning: exclusion constraint index ${ix.name} is not copied (declare it in a DDL file for the partitioned table)`);
      continue;
    }
    let def = stagedStatement(t, ix.def);
    if (ix.unique && !ix.has_control) {
      def = withKeyColumn(def, t.control);
      m.log(`unique index ${ix.name} becomes unique on its columns plus ${t.control} (a partitioned table enforces uniqueness only together with its partition key)`);
    }
    sql.push(def);
  }
  const fks = await exec.read<{ name: string; def: string }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = ${n.sourceLiteral}::regclass AND contype = 'f' ORDER BY 1`,
  );
  for (const fk of fks.rows) sql.push(`ALTER TABLE ${n.staged} ADD CONSTRAINT ${q(fk.name)} ${fk.def}`);
  return sql;
}

async function checkColumns(m: Migration): Promise<void> {
  const file = m.table.ddl ?? "the copied definition";
  const staged = await inspectTable(m.exec.db, STAGING, m.table.table);
  const missing = m.source.columns.filter((c) => !c.generated && !staged.columns.some((s) => s.name === c.name && s.type === c.type));
  if (missing.length > 0) {
    throw new Error(
      `${file} does not hold every column of the live ${m.names.key} with the same type, so the copy would lose data: ` +
        `missing or different: ${describeColumns(missing)} (the DDL file has: ${describeColumns(staged.columns)}); make the file match the live table`,
    );
  }
}

/** pg_partman creates partitions in the parent's schema; they belong in the table's own schema,
 *  where the parent will be after the swap. Moving them now keeps the swap's lock short whatever
 *  the number of partitions. */
async function moveChildren(m: Migration): Promise<void> {
  const { exec, names: n } = m;
  if (exec.dryRun) {
    await exec.write(`-- for each partition pg_partman just created in ${STAGING}:\nALTER TABLE ${q(STAGING)}.<partition> SET SCHEMA ${q(n.schema)}`);
    return;
  }
  const children = await exec.read<{ name: string; taken: boolean }>(
    `SELECT c.relname AS name, to_regclass(format('%I.%I', $1::text, c.relname)) IS NOT NULL AS taken
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace s ON s.oid = c.relnamespace
      WHERE i.inhparent = ${n.stagedLiteral}::regclass AND s.nspname = $2 ORDER BY 1`,
    [n.schema, STAGING],
  );
  for (const c of children.rows) {
    if (c.taken) throw new Error(`${n.schema}.${c.name} already exists, so the partition pg_partman made for ${n.key} cannot move there: rename or drop it`);
    await exec.write(`ALTER TABLE ${q(STAGING)}.${q(c.name)} SET SCHEMA ${q(n.schema)}`);
  }
}

/** After the swap, parent and partitions share a schema again and pg_partman can maintain the set
 *  (it looks for partitions in the parent's schema, so it cannot while the copy is staged). */
export async function maintainAfterSwap(m: Migration): Promise<void> {
  await m.exec.write(runTableMaintenanceSql(m.table, m.maintenance));
}

/** Partitions made ahead at prepare: the declared premake plus at least a week's worth (time), or
 *  plus 3 (ids: how fast they advance is not known; rows past them land in the copy's default
 *  partition, and verify --fix moves them), because pg_partman cannot add partitions to the staged
 *  copy while the copy runs. An integer-range set's create_parent makes partitions from the start
 *  id on, not up to the highest one: those between count too. */
export function preparePremake(t: TableSpec, min: string | null, max: string | null): number {
  if (t.kind === "id") {
    const spanned = min !== null && max !== null ? Math.floor(Number(max) / t.interval.ids) - Math.floor(Number(min) / t.interval.ids) : 0;
    return spanned + t.premake + 3;
  }
  const days = approxMillis(t.interval) / 86_400_000;
  return t.premake + Math.max(3, Math.ceil(7 / Math.max(days, 1 / 24)));
}

/** Copies the next batch; returns how many rows it copied (0: the copy is complete). */
export async function copyBatch(m: Migration, state: MigrationState, batchSize: number): Promise<number> {
  const sql = copyBatchSql(m.names.source, m.names.staged, m.key, m.columns, state.watermark !== null);
  return m.exec.transaction(async () => {
    const r = await m.exec.write<{ copied: number; last: string[] | null }>(sql, state.watermark ? [batchSize, state.watermark] : [batchSize]);
    const copied = r.rows[0]?.copied ?? 0;
    await checkpoint("copy-batch-before-commit");
    await m.exec.write(
      `UPDATE ${q(STAGING)}.migrations SET watermark = coalesce($2, watermark), rows_copied = rows_copied + $3, copy_done = $4, updated_at = now() WHERE source = $1`,
      [m.names.key, r.rows[0]?.last ?? null, copied, !m.exec.dryRun && copied < batchSize],
    );
    return copied;
  });
}

/** Replays up to `limit` captured changes into the copy; returns how many it replayed. */
export async function replayBatch(m: Migration, state: MigrationState, limit: number): Promise<number> {
  const r = replaySql(m.names.changes, m.names.source, m.names.staged, m.key, m.columns, state.copy_done ? null : state.watermark ?? []);
  return replay(m, r, limit, state.copy_done ? [] : [state.watermark ?? []], true);
}

async function replay(m: Migration, r: ReturnType<typeof replaySql>, limit: number, extra: unknown[], record: boolean): Promise<number> {
  const body = async () => {
    const bound = m.exec.dryRun ? "<newest seq to replay>" : (await m.exec.read<{ bound: string | null }>(r.bound, [limit])).rows[0].bound;
    if (bound === null) return 0;
    await m.exec.write(r.remove, [bound, ...extra]);
    await m.exec.write(r.insert, [bound, ...extra]);
    await checkpoint("replay-before-commit");
    const forgotten = await m.exec.write(r.forget, [bound]);
    if (record) {
      await m.exec.write(`UPDATE ${q(STAGING)}.migrations SET changes_applied = changes_applied + $2, updated_at = now() WHERE source = $1`, [m.names.key, forgotten.rowCount ?? 0]);
    }
    return forgotten.rowCount ?? 0;
  };
  // One snapshot: changes committed while this runs are neither replayed nor forgotten.
  return record ? m.exec.transaction(body, "REPEATABLE READ") : body();
}

export async function pendingChanges(m: Migration, log = m.names.changes): Promise<number> {
  const exists = (await m.exec.read<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [log])).rows[0].ok;
  if (!exists) return 0;
  return Number((await m.exec.read<{ n: string }>(`SELECT count(*) AS n FROM ${log}`)).rows[0].n);
}

export interface SwapResult {
  /** The longest any other session waited for the swap: the last lock attempt's queue (at most
   *  max-stall, and never more than waitedMs) plus heldMs. */
  stallMs: number;
  /** From acquiring the lock to commit. */
  heldMs: number;
  /** Until the lock was acquired, most of it sleeping between attempts without holding anyone up. */
  waitedMs: number;
  attempts: number;
  replayed: number;
}

/** Swaps the copy in, under the lock on the live table and the copy. */
export async function swap(m: Migration): Promise<SwapResult> {
  const { exec, names: n } = m;
  let replayed = 0;
  const r = await underLock(m, "swap", [n.source, n.changes, n.staged], async (lock) => {
    const live = await inspectTable(exec.db, n.schema, n.table);
    // The copy was built for these columns; under the lock they cannot change before the swap.
    columnsUnchanged(m, live.columns);
    // Under the lock no change can arrive: replay the rest exactly.
    replayed = await replay(m, replaySql(n.changes, n.source, n.staged, m.key, m.columns, null), 2_000_000_000, [], false);
    // Grants made since prepare, too (GRANT is idempotent).
    for (const sql of grantSql(live.grants, n.staged)) await exec.write(sql);
    const renamed = await renameClashes(m);
    await exec.write(`ALTER TABLE ${n.source} RENAME TO ${q(n.retiredName)}`);
    for (const sql of dropCaptureSql({ ...forwardCapture(n), on: n.retired })) await exec.write(sql);
    await exec.write(`ALTER TABLE ${n.staged} SET SCHEMA ${q(n.schema)}`);
    await exec.write(
      `UPDATE ${q(m.partman.schema)}.part_config SET parent_table = ${quoteLiteral(n.key)}, automatic_maintenance = 'on' WHERE parent_table = ${quoteLiteral(n.stagedText)}`,
    );
    await syncSequences(m, n.retired, n.source);
    for (const sql of createCaptureSql(reverseCapture(n), m.key)) await exec.write(sql);
    await checkpoint("swap-before-commit");
    await exec.write(
      `UPDATE ${q(STAGING)}.migrations SET phase = 'swapped', swapped_at = now(), renamed = $2, swap_lock_ms = $3, updated_at = now() WHERE source = $1`,
      [n.key, JSON.stringify(renamed), stall(m, lock, Date.now() - lock.at)],
    );
  });
  const heldMs = Date.now() - r.at;
  return { stallMs: stall(m, r, heldMs), heldMs, waitedMs: r.waitedMs, attempts: r.attempts, replayed };
}

const stall = (m: Migration, lock: Locked, heldMs: number) => Math.min(lock.waitedMs, m.lock.maxStallMs) + heldMs;

/** Refuses when the live table's columns differ from those the copy was built for. */
export function columnsUnchanged(m: Migration, now: Column[]): void {
  const before = m.preparedColumns;
  const changes = [
    ...now.filter((c) => !before.some((b) => b.name === c.name)).map((c) => `added ${c.name} ${c.type}`),
    ...before.filter((b) => !now.some((c) => c.name === b.name)).map((b) => `dropped ${b.name}`),
    ...now.flatMap((c) => before.filter((b) => b.name === c.name && b.type !== c.type).map((b) => `${c.name} changed from ${b.type} to ${c.type}`)),
  ];
  if (changes.length === 0) return;
  const { names: n, table: t } = m;
  throw new MigrationRefused([
    `the columns of ${n.key} changed after the migration built its copy (${n.stagedText}): ${changes.join("; ")}. Swapping would lose or invent data, so nothing was swapped. ` +
      `Either undo the change on ${n.key}, or roll back (migrate rollback ${t.table}) and run again to copy the table as it is now` +
      `${t.ddl ? ` (change ${t.ddl} to match it first)` : ""}`,
  ]);
}

/** The live table's indexes and sequences whose names the copy's take over when it moves into the
 *  schema: renamed with a _retired suffix (and back on rollback). */
async function renameClashes(m: Migration): Promise<Renamed[]> {
  const { exec, names: n } = m;
  if (exec.dryRun) {
    await exec.write(`-- for each index or sequence of ${n.source} whose name an index or sequence of the copy uses:\nALTER INDEX ${q(n.schema)}.<name> RENAME TO <name>_retired`);
    return [];
  }
  const renamed: Renamed[] = [];
  for (const c of await clashingNames(exec.db, n)) {
    if (!c.ofSource) throw new Error(`${n.schema}.${c.name} exists and is not part of ${n.key}, but the partitioned table has an index or sequence of that name: rename one of them`);
    const kind = c.kind === "S" ? "sequence" : "index";
    const to = `${c.name.slice(0, 63 - "_retired".length)}_retired`;
    await exec.write(`ALTER ${kind.toUpperCase()} ${q(n.schema)}.${q(c.name)} RENAME TO ${q(to)}`);
    renamed.push({ kind, from: c.name, to });
  }
  return renamed;
}

/** New rows keep getting keys after the ones already used: every identity or serial sequence of
 *  `to` continues from `from`'s (or from the highest value in `from` where it has none). A
 *  sequence owned by `from` that `to`'s defaults use becomes `to`'s, so finish cannot drop it. */
async function syncSequences(m: Migration, from: string, to: string): Promise<void> {
  const { exec } = m;
  const cols = m.columns;
  if (exec.dryRun) {
    await exec.write(`-- for each identity or serial column c of ${to}:\nSELECT setval(pg_get_serial_sequence('${to}', 'c'), <the value of ${from}'s sequence for c, or max(c)>)`);
    return;
  }
  for (const c of cols) {
    const seqs = await exec.read<{ to_seq: string | null; from_seq: string | null }>(
      `SELECT pg_get_serial_sequence($1, $3) AS to_seq, pg_get_serial_sequence($2, $3) AS from_seq`,
      [to, from, c],
    );
    const { to_seq, from_seq } = seqs.rows[0];
    if (to_seq && to_seq !== from_seq) {
      const value = from_seq
        ? `(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${from_seq})`
        : `(SELECT max(${q(c)}) FROM ${from})`;
      await exec.write(`SELECT setval(${quoteLiteral(to_seq)}, greatest(${value}, 1))`);
    }
  }
  const owned = await exec.read<{ seq: string; col: string }>(
    // Its name, not s.oid::regclass::text: a sequence dropped meanwhile would print as its OID.
    `SELECT format('%I.%I', sn.nspname, s.relname) AS seq, a.attname AS col
       FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
       JOIN pg_depend dep ON dep.objid = d.oid AND dep.classid = 'pg_attrdef'::regclass AND dep.refclassid = 'pg_class'::regclass
       JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_depend own ON own.objid = s.oid AND own.deptype = 'a' AND own.refobjid = $2::regclass
      WHERE d.adrelid = $1::regclass`,
    [to, from],
  );
  for (const o of owned.rows) await exec.write(`ALTER SEQUENCE ${o.seq} OWNED BY ${to}.${q(o.col)}`);
}

/** Before the swap: abandons the migration (the live table never stopped being the original).
 *  After it: makes the original live again with every write made since, and keeps the copy in
 *  sync so a later run can swap again. */
export async function rollback(m: Migration, state: MigrationState): Promise<"abandoned" | "restored"> {
  const { exec, names: n } = m;
  if (state.phase === "copying") {
    await underLock(m, "rollback", [n.source, n.changes, n.staged], async () => {
      for (const sql of dropCaptureSql(forwardCapture(n))) await exec.write(sql);
      await exec.write(`DELETE FROM ${q(m.partman.schema)}.part_config WHERE parent_table = ${quoteLiteral(n.stagedText)}`);
      // The copy and its partitions (some already in the table's schema) go together.
      await exec.write(`DROP TABLE IF EXISTS ${n.staged}`);
      await exec.write(`DELETE FROM ${q(STAGING)}.migrations WHERE source = $1`, [n.key]);
    });
    return "abandoned";
  }
  await underLock(m, "rollback", [n.source, n.reverseChanges, n.retired], async () => {
    await replay(m, replaySql(n.reverseChanges, n.source, n.retired, m.key, m.columns, null), 2_000_000_000, [], false);
    for (const sql of dropCaptureSql(reverseCapture(n))) await exec.write(sql);
    await syncSequences(m, n.source, n.retired);
    await exec.write(`ALTER TABLE ${n.source} SET SCHEMA ${q(STAGING)}`);
    await exec.write(
      `UPDATE ${q(m.partman.schema)}.part_config SET parent_table = ${quoteLiteral(n.stagedText)}, automatic_maintenance = 'off' WHERE parent_table = ${quoteLiteral(n.key)}`,
    );
    await exec.write(`ALTER TABLE ${n.retired} RENAME TO ${q(n.table)}`);
    for (const r of state.renamed) await exec.write(`ALTER ${r.kind.toUpperCase()} ${q(n.schema)}.${q(r.to)} RENAME TO ${q(r.from)}`);
    for (const sql of createCaptureSql(forwardCapture(n), m.key)) await exec.write(sql);
    await exec.write(
      `UPDATE ${q(STAGING)}.migrations SET phase = 'copying', copy_done = true, swapped_at = NULL, renamed = '[]', updated_at = now() WHERE source = $1`,
      [n.key],
    );
    await checkpoint("rollback-before-commit");
  });
  return "restored";
}

/** After the swap: drops the retired original and the migration's machinery. */
export async function finish(m: Migration): Promise<void> {
  const { exec, names: n } = m;
  await underLock(m, "finish", [n.source, n.reverseChanges, n.retired], async () => {
    for (const sql of dropCaptureSql(reverseCapture(n))) await exec.write(sql);
    await exec.write(`DROP TABLE ${n.retired}`);
    await exec.write(`DELETE FROM ${q(STAGING)}.migrations WHERE source = $1`, [n.key]);
    await checkpoint("finish-before-commit");
  });
}

const LOCK_NOT_AVAILABLE = "55P03";

interface Locked {
  attempts: number;
  waitedMs: number;
  /** When the lock was acquired (Date.now()). */
  at: number;
}

/** Runs `body` in one transaction whose first statement locks `tables` ACCESS EXCLUSIVE through
 *  partman_stack.lock_in_order, in the order given, each partitioned one followed by its
 *  partitions (dropping a trigger or a partitioned table takes theirs too; better under the helper
 *  than waited for unbounded later). No attempt holds the table up longer than max-stall; when
 *  max-lock-wait runs out it refuses, naming who held the tables, and nothing has changed. */
async function underLock(m: Migration, what: string, tables: string[], body: (lock: Locked) => Promise<void>): Promise<Locked> {
  const { exec } = m;
  const list = exec.dryRun ? tables : await withPartitions(m, tables);
  const limits = { lockTimeout: parseInterval(`${m.lock.maxStallMs} ms`), maxLockWait: parseInterval(`${m.lock.maxLockWaitMs} ms`) };
  try {
    return await exec.transaction(async () => {
      const r = (await exec.write<{ acquired: boolean; attempts: number; waited_ms: number; blocker: string | null }>(lockInOrderSql(list, limits))).rows[0];
      if (r && !r.acquired) {
        throw new MigrationRefused([
          `${what}: ${list[0]} stayed locked by ${r.blocker ?? "other sessions' transactions"} for all of --max-lock-wait (${r.waited_ms} ms, ${r.attempts} attempt(s) of at most ${m.lock.maxStallMs} ms); ` +
            `nothing changed. End that transaction (or wait for it) and run migrate ${what === "swap" ? "run" : what} again, or give it longer with --max-lock-wait`,
        ]);
      }
      const lock = { attempts: r?.attempts ?? 0, waitedMs: r?.waited_ms ?? 0, at: Date.now() };
      // Whatever else the transaction waits for holds the tables locked meanwhile.
      await exec.write(`SET LOCAL lock_timeout = '${m.lock.maxStallMs}ms'`);
      await body(lock);
      return lock;
    });
  } catch (err) {
    if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
    throw new MigrationRefused([
      `${what}: holding the lock on ${list[0]}, it waited longer than --max-stall (${m.lock.maxStallMs} ms) for another lock (${(err as Error).message}); rolled back, nothing changed. Run it again`,
    ]);
  }
}

/** The tables that exist, in the order given, each partitioned one followed by its partitions. */
async function withPartitions(m: Migration, tables: string[]): Promise<string[]> {
  const r = await m.exec.read<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM unnest($1::text[]) WITH ORDINALITY AS u(name, ord)
       CROSS JOIN LATERAL (SELECT to_regclass(u.name) AS parent) p
       JOIN pg_class c ON c.oid = p.parent OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = p.parent)
       JOIN pg_namespace n ON n.oid = c.relnamespace
      ORDER BY u.ord, c.oid <> p.parent, c.relname`,
    [tables],
  );
  return r.rows.map((x) => x.name);
}
