// Archiving before dropping: each expired partition of a table is dumped to a file with a sha256
// beside it, the dump is verified, and only then is the partition dropped. Expired means moved
// to the table's retentionSchema by maintenance, detached and kept in the table's schema
// (retentionKeepTable), or still attached past the retention horizon (before now() - retention,
// or ids all below max(id) - retention). A partition whose dump or verification fails is not dropped; the run goes on
// with the others and reports the failure. Locks are taken as maintenance takes them (parent
// first, bounded: partman_stack.lock_in_order), and the run holds the table's maintenance fence, so
// maintenance does not expire a partition between its dump and its drop.

import fs from "node:fs";
import path from "node:path";
import type { Client } from "pg";
import { quoteIdent } from "../config/identifiers";
import { approxMillis, shiftTime } from "../config/interval";
import type { MaintenanceSpec, StackSpec, TableSpec } from "../config/types";
import type { Session } from "../db/session";
import { pastHorizon, positionOf } from "../engine/data-loss";
import { introspect, type PartitionInfo } from "../engine/introspect";
import { subParents } from "../engine/sub-parents";
import { inTransaction, requireLocksSql } from "../engine/lock-in-order";
import { holdFences, maintenanceFence } from "../engine/fence";
import { objectsToInstall } from "../partman/maintenance-objects";
import { checksumLine, dumpTable, sha256File, toolsFor, verifyDump, type Tools } from "./dump";

export interface ArchiveOptions {
  /** Directory the dumps go to; created (0700) if missing. */
  to: string;
  /** List what would be dumped and dropped; write and change nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
  /** Directory of pg_dump and pg_restore (they must be at least the server's major version);
   *  default: found on PATH. */
  pgBin?: string;
}


export interface ArchivedPartition {
  schema: string;
  name: string;
  /** retention-schema: retention moved it there, detached; kept-table: retention detached it and
   *  left it in the table's schema (retentionKeepTable); past-horizon: still attached. */
  origin: "retention-schema" | "kept-table" | "past-horizon";
  /** Range bounds, ISO times or ids; known only while attached (a detached table has no bounds). */
  from: string | null;
  to: string | null;
  /** A list set's partition: its value (known only while attached). */
  value: string | null;
  /** Exact row count, read under the lock the dump was taken under. */
  rows: number | null;
  /** pg_total_relation_size before archiving. */
  tableBytes: number;
  file: string;
  dumpBytes: number | null;
  sha256: string | null;
  /** planned: a dry run's; failed: nothing was dropped (see reason). */
  status: "archived" | "failed" | "planned";
  reason: string | null;
  /** The statements that drop it (run, or in a dry run, to be run) after the dump is verified. */
  sql: string[];
}

export interface ArchiveResult {
  table: string;
  database: string;
  dir: string;
  dryRun: boolean;
  retention: string | null;
  /** now() - retention (time), or the highest id - retention (integer range), when the run
   *  started; null without retention. */
  horizon: string | null;
  retentionSchema: string | null;
  /** Oldest first: the retention schema's tables, then the attached ones. */
  partitions: ArchivedPartition[];
  failed: number;
  /** The archive directory is open to other users. */
  warnings: string[];
}

export async function archivePartitions(session: Session, spec: StackSpec, name: string, opts: ArchiveOptions): Promise<ArchiveResult> {
  const t = spec.tables.find((x) => x.name === name || x.table === name);
  if (!t) throw new Error(`table ${name} is not declared in stack ${spec.stack} (declared: ${spec.tables.map((x) => x.name).join(", ") || "none"})`);
  const db = session.target;
  const log = opts.log ?? (() => {});
  const dir = path.resolve(opts.to);
  const parent = `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
  const exists = await db.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [parent]);
  if (!exists.rows[0].ok) throw new Error(`table ${t.name} does not exist in database ${session.database}`);

  const state = await introspect(session, { ...spec, tables: [t] });
  if (!state.partman) throw new Error(`pg_partman is not installed in database ${session.database}: there is no partition set to archive`);
  const install = objectsToInstall(state.partman, state.maintenanceObjects);
  const ts = state.tables[t.name];
  const now = new Date(state.now);
  const horizon =
    t.retention === null ? null : t.kind === "id" ? (ts.maxId === null ? null : String(ts.maxId - t.retention.ids)) : shiftTime(now, t.retention, -1).toISOString();
  // The partitions maintenance expires next, as it picks them (see pastHorizon).
  const expired = pastHorizon(t.retention?.text ?? null, ts.partitions, positionOf(ts, now));
  // A sub-partitioned set (subpartition): a partition past the horizon is archived as its
  // sub-partitions (a dump of a partitioned table holds no rows), each detached from its sub-parent,
  // and so are the sub-partitions past the sub-partitions' own horizon.
  const subs = subParents(t, ts);
  const attached = (of: TableSpec, x: PartitionInfo): Candidate => ({
    schema: t.schema, name: x.name, origin: "past-horizon", from: x.from, to: x.to, value: x.value, tableBytes: x.bytes, parent: `${quoteIdent(t.schema)}.${quoteIdent(of.table)}`,
  });
  const whole = subs.filter(([, sts]) => expired.some((x) => sts.name === `${t.schema}.${x.name}`));
  const candidates: Candidate[] = [
    ...(t.retentionSchema
      ? await detachedTables(db, t, t.retentionSchema, "retention-schema")
      : t.retentionKeepTable
      ? await detachedTables(db, t, t.schema, "kept-table")
      : []),
    ...expired.filter((x) => !whole.some(([, sts]) => sts.name === `${t.schema}.${x.name}`)).map((x) => attached(t, x)),
    ...whole.flatMap(([sub, sts]) => sts.partitions.map((x) => attached(sub, x))),
    ...subs
      .filter((entry) => !whole.includes(entry))
      .flatMap(([sub, sts]) => pastHorizon(sub.retention?.text ?? null, sts.partitions, positionOf(sts, now)).map((x) => attached(sub, x))),
  ];
  const partitions: ArchivedPartition[] = candidates.map(({ parent: of, ...p }) => {
    const rel = `${quoteIdent(p.schema)}.${quoteIdent(p.name)}`;
    const sql =
      p.origin === "past-horizon"
        ? [requireLocksSql([of!, rel], spec.maintenance), `ALTER TABLE ${of} DETACH PARTITION ${rel};`, `DROP TABLE ${rel};`]
        : [requireLocksSql([rel], spec.maintenance), `DROP TABLE ${rel};`];
    const file = path.join(dir, `${p.schema}.${p.name}.dump`);
    return { ...p, rows: null, file, dumpBytes: null, sha256: null, status: "planned", reason: null, sql };
  });

  const warnings = [openDirWarning(dir)].filter((w) => w !== null);
  if (opts.dryRun) {
    for (const p of partitions) {
      p.rows = await countRows(db, p);
      const clash = [p.file, sumFileOf(p.file)].map(clashOf).find((c) => c !== null);
      if (clash) fail(p, clash);
    }
  } else if (partitions.length) {
    try {
      // Only this user may read the dumps (a table's rows) or put anything beside them.
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new Error(`cannot create the archive directory ${dir}: ${(err as Error).message}; nothing was dumped or dropped`);
    }
    if (install) await db.query(install);
    // The set's fence, which its sub-parents' expiry takes too.
    const fence = await holdFences(session, [maintenanceFence(t.name)], { deadline: Date.now() + approxMillis(spec.maintenance.maxLockWait), purpose: `archive ${t.name}` });
    try {
      if (fence.unavailable.length > 0) {
        throw new Error(`${fence.unavailable[0].message}: maintenance is expiring ${t.name}'s partitions right now; nothing was dumped or dropped, run archive again`);
      }
      const tools = toolsFor(db, session.database, opts.pgBin ?? null);
      for (const p of partitions) {
        // Without the fence (its connection was lost), maintenance could expire what is being dumped.
        const lost = fence.lost();
        if (lost) fail(p, `the maintenance fence was lost (${lost.message}); nothing was dropped, run archive again`);
        else await archiveOne(db, tools, p, spec.maintenance, log);
      }
    } finally {
      await fence.release();
    }
  }
  return {
    table: t.name,
    database: session.database,
    dir,
    dryRun: opts.dryRun ?? false,
    retention: t.retention?.text ?? null,
    horizon,
    retentionSchema: t.retentionSchema,
    partitions,
    failed: partitions.filter((p) => p.status === "failed").length,
    warnings,
  };
}

/** S_ISVTX: in a sticky directory (/tmp), only a file's owner may remove or rename it. */
const STICKY = 0o1000;

/** An existing archive directory is the user's: it is used as it is (refusing it would fail runs
 *  that worked before, and the files are 0600 and never opened through a planted name either
 *  way), with this warning when other users may enter it. */
function openDirWarning(dir: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    // Missing, or not a directory: creating it says what is wrong.
    return null;
  }
  if ((st.mode & 0o077) === 0) return null;
  const writable = (st.mode & 0o022) !== 0 && (st.mode & STICKY) === 0;
  return (
    `the archive directory ${dir} is open to other users (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")}): the dumps are 0600, but they see their names` +
    `${writable ? " and, as they may write to it, can remove or replace them" : ""}; \`chmod 700 ${dir}\` closes it`
  );
}

/** parent: the table a partition past the horizon is detached from (the set, or its sub-parent). */
type Candidate = Pick<ArchivedPartition, "schema" | "name" | "origin" | "from" | "to" | "value" | "tableBytes"> & { parent?: string };

/** Partitions retention detached and kept, as plain tables: moved to the retention schema, or left
 *  in the table's own schema (retentionKeepTable without one). pg_partman names children
 *  `<table>_p` and then digits and underscores (a day, month, first id or value; 4.x also
 *  `2026w48` weeks and `2026q1` quarters), so a table such as `events_pending` is never taken for one;
 *  and retention detached them as the acting role, so another role's table is never taken either. */
async function detachedTables(db: Client, t: TableSpec, schema: string, origin: Candidate["origin"]): Promise<Candidate[]> {
  const r = await db.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relispartition AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
        AND left(c.relname, length($2)) = $2 AND substr(c.relname, length($2) + 1) ~ '^[0-9][0-9_]*([wq][0-9]+)?$'
      ORDER BY c.relname`,
    [schema, `${t.table}_p`],
  );
  return r.rows.map((x) => ({ schema, name: x.name, origin, from: null, to: null, value: null, tableBytes: Number(x.bytes) }));
}

/** Two transactions per partition, so it is never locked while its parent is waited for:
 *  1. lock it against writes (SHARE), take its row count and checksum, dump, checksum and verify
 *     the dump: a dump that does not hold exactly those rows fails here, and nothing is dropped;
 *  2. lock its parent and then it (lock_in_order, bounded), check its rows are still those dumped
 *     (a late write between the two would not be in the dump), then detach and drop it.
 *  Whatever fails before the drop commits leaves the partition as it was and removes the files. */
async function archiveOne(db: Client, tools: Tools, p: ArchivedPartition, m: MaintenanceSpec, log: (line: string) => void): Promise<void> {
  const rel = `${quoteIdent(p.schema)}.${quoteIdent(p.name)}`;
  const sumFile = sumFileOf(p.file);
  const created: string[] = [];
  const fds: number[] = [];
  let committing = false;
  let verified = false;
  try {
    // Claim both names first: an earlier run's dump is never overwritten, nor removed below.
    const claim = (f: string) => {
      fds.push(createFile(f));
      created.push(f);
      return fds[fds.length - 1];
    };
    const dumpFd = claim(p.file);
    const sumFd = claim(sumFile);
    const dumped = await inTransaction(db, async () => {
      // The transaction idles while pg_dump runs.
      await db.query(`SET LOCAL idle_in_transaction_session_timeout = 0`);
      // Writers wait, readers go on: the count and the dump see the same rows.
      await db.query(requireLocksSql([rel], m, "SHARE"));
      const content = await contentOf(db, rel);
      p.rows = content.rows;
      log(`dumping ${p.schema}.${p.name} (${p.rows} rows) to ${p.file}`);
      await dumpTable(tools, p.schema, p.name, dumpFd, approxMillis(m.maxLockWait));
      p.sha256 = await sha256File(p.file);
      fs.writeSync(sumFd, checksumLine(p.sha256, p.file));
      p.dumpBytes = fs.fstatSync(dumpFd).size;
      // A DROP that commits must not outlive a dump still in the page cache.
      for (const fd of fds) fs.fsyncSync(fd);
      fsyncDir(path.dirname(p.file));
      await verifyDump(tools, p.schema, p.name, p.file, sumFile, p.rows);
      verified = true;
      return content;
    });
    await inTransaction(db, async () => {
      await db.query(p.sql[0]);
      const now = await contentOf(db, rel);
      if (now.rows !== dumped.rows || now.checksum !== dumped.checksum) {
        throw new Error(`its rows changed after the dump (${dumped.rows} dumped, ${now.rows} now): a late write would be lost with it`);
      }
      for (const sql of p.sql.slice(1)) await db.query(sql);
      committing = true;
    });
    p.status = "archived";
  } catch (err) {
    const gone = verified && !committing && !(await db.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [rel]).then((r) => r.rows[0].ok, () => true));
    if (committing) {
      // The connection may have gone after the server committed: the dump is then all there is.
      fail(p, `COMMIT failed (${(err as Error).message}); the dump is kept: check whether ${p.schema}.${p.name} still exists`);
    } else if (gone) {
      // Dropped by another session after its dump was verified (its fence was lost): the dump is all there is.
      fail(p, `${(err as Error).message}; ${p.schema}.${p.name} was dropped by another session after its dump was verified, so the dump is kept`);
    } else {
      for (const f of created) fs.rmSync(f, { force: true });
      fail(p, `${(err as Error).message}; nothing was dropped`);
    }
    log(`failed ${p.schema}.${p.name}: ${p.reason}`);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

/** This run's own new file, for writing: O_EXCL never takes over an existing one (an earlier run's
 *  dump), O_NOFOLLOW never a symlink planted at the name, and 0600, as a dump holds the table's rows. */
function createFile(file: string): number {
  try {
    return fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new Error(clashOf(file) ?? `cannot create ${file}: ${(err as Error).message}`);
  }
}

/** Why the name is taken, if it is (a dangling symlink too). */
function clashOf(file: string): string | null {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return null;
  return st.isSymbolicLink() ? `${file} is a symbolic link: refused, never followed` : `${file} exists and is never overwritten`;
}

/** Row count and a checksum over every row, to tell whether the rows are still those dumped. */
async function contentOf(db: Client, rel: string): Promise<{ rows: number; checksum: string }> {
  const r = await db.query<{ n: string; sum: string }>(`SELECT count(*) AS n, coalesce(sum(hashtextextended(t::text, 0)), 0)::text AS sum FROM ONLY ${rel} t`);
  return { rows: Number(r.rows[0].n), checksum: r.rows[0].sum };
}

async function countRows(db: Client, p: Pick<ArchivedPartition, "schema" | "name">): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(p.schema)}.${quoteIdent(p.name)}`);
  return Number(r.rows[0].n);
}

function sumFileOf(file: string): string {
  return `${file}.sha256`;
}

function fail(p: ArchivedPartition, reason: string): void {
  p.status = "failed";
  p.reason = reason;
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
