// `verify`: the health of a stack's partition sets as pass/warn/fail checks an operator can alert
// on. Read-only, except `fix`, which moves rows out of default partitions and fills gaps between
// partitions.

import type { Client } from "pg";
import { cronPeriodSeconds } from "../config/cron";
import { quoteIdent as q, quoteLiteral } from "../config/identifiers";
import { shiftTime, type Interval } from "../config/interval";
import { epochValue } from "../config/span";
import { pastHorizon, positionOf } from "./data-loss";
import type { MaintenanceSpec, StackSpec, TableSpec } from "../config/types";
import type { Session } from "../db/session";
import { introspect, type DatabaseState, type MaintenanceRun, type TableState } from "./introspect";
import { controlTimeSql, timeCodecFunctions } from "../partman/codecs";
import { liveConfig } from "../partman/config";
import { MAINTENANCE_SCHEMA, maintenanceCommand, maintenanceObjects, objectsToInstall } from "../partman/maintenance-objects";
import { fillGapsSql, moveDefaultRowsSql } from "../partman/partitions";
import type { PartmanInstall } from "../partman/version";
import { inTransaction, requireLocksSql } from "./lock-in-order";
import { plan } from "./plan";
import { partmanAdvisoryMessage, upgradeAdvice } from "../partman/advisories";
import { queryChecks, scannedRelations } from "./pruning";
import { subParents } from "./sub-parents";
import { describeRun } from "./status";
import { fmt } from "./value-text";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  check: "partman-version" | "table" | "config" | "premake" | "bounds" | "last-run" | "retention" | "default-partition" | "pruning" | "query" | "maintenance-job";
  /** The declared query a `query` check is about. */
  query?: string;
  table?: string;
  status: CheckStatus;
  message: string;
  /** What to run or change when the check fails. */
  fix?: string;
}

export interface VerifyReport {
  stack: string;
  database: string;
  ok: boolean;
  checks: Check[];
}

export async function verify(session: Session, spec: StackSpec, opts: { fix?: boolean; log?: (line: string) => void } = {}): Promise<VerifyReport> {
  let state = await introspect(session, spec);
  const checks: Check[] = [];
  if (opts.fix && state.partman) {
    const install = objectsToInstall(state.partman, state.maintenanceObjects);
    if (install) await session.target.query(install);
    for (const [t, ts] of spec.tables.flatMap((t) => [[t, state.tables[t.name]] as const, ...subParents(t, state.tables[t.name])])) {
      if (!ts.partConfig) continue;
      // Rows moved out of the default get partitions of their own, maybe far from the others.
      const def = ts.defaultRelation;
      const movingFrom = def !== null && (await defaultRows(session.target, def)) > 0 ? def : null;
      const locked = lockedOn(session.target, t, ts, spec.maintenance);
      const db = session.target;
      const partman = state.partman;
      if (movingFrom) {
        opts.log?.(`moving the rows in ${movingFrom} into proper partitions, one partition's worth per transaction`);
        const batch = () => (t.kind === "time" && t.timeCodec ? moveKeyedRows(db, partman, t, movingFrom) : db.query(moveDefaultRowsSql(partman, t)).then((r) => Number(r.rows[0].moved)));
        while ((await locked(batch)) > 0);
      }
      if (movingFrom || gaps(ts).length > 0) {
        opts.log?.(`filling the gaps between the partitions of ${t.name}`);
        await locked(() => db.query(fillGapsSql(partman, t))).catch((err: Error) => opts.log?.(`could not fill the gaps of ${t.name}: ${err.message}`));
      }
    }
    state = await introspect(session, spec);
  }
  const p = plan(spec, state);
  const now = new Date(state.now);
  const advisory = partmanVersionCheck(spec, state);
  if (advisory) checks.push(advisory);
  for (const t of spec.tables) {
    const ts = state.tables[t.name];
    const table = t.name;
    if (ts.relkind === null) {
      checks.push({ check: "table", table, status: "fail", message: `${table} does not exist`, fix: `partman-stack apply --stack ${spec.stack}` });
      continue;
    }
    if (ts.relkind !== "p") {
      checks.push({ check: "table", table, status: "fail", message: `${table} is not partitioned`, fix: `partman-stack migrate run ${table} --stack ${spec.stack}` });
      continue;
    }
    if (!ts.partConfig || !state.partman) {
      checks.push({ check: "table", table, status: "fail", message: `${table} is partitioned but not registered with pg_partman`, fix: `partman-stack apply --stack ${spec.stack}` });
      continue;
    }
    checks.push({ check: "table", table, status: "ok", message: `${table} is partitioned by range on ${ts.keyColumns.join(", ")} and registered with pg_partman` });
    checks.push(configCheck(t, p, spec.stack));
    checks.push(premakeCheck(t, ts, now, spec.maintenance));
    checks.push(boundsCheck(t, ts, state.partman));
    if (ts.lastRun) checks.push(lastRunCheck(t, ts.lastRun, spec));
    const retention = await retentionCheck(session.target, t, ts, state, spec, now);
    if (retention) checks.push(retention);
    checks.push(await defaultCheck(session.target, t, ts, state.partman));
    checks.push(...(await pruningChecks(session.target, t, ts, now, state.partman, spec.maintenance)));
    checks.push(...(await queryChecks(session.target, t)));
    // Each partition that is partitioned in turn: its sub-partitions' premake, bounds, retention and default.
    for (const [sub, sts] of subParents(t, ts)) {
      checks.push(premakeCheck(sub, sts, now, spec.maintenance), boundsCheck(sub, sts, state.partman));
      if (sts.lastRun) checks.push(lastRunCheck(sub, sts.lastRun, spec));
      const expiring = await retentionCheck(session.target, sub, sts, state, spec, now);
      if (expiring) checks.push(expiring);
      checks.push(await defaultCheck(session.target, sub, sts, state.partman));
    }
  }
  checks.push(jobCheck(spec, state, now));
  return { stack: spec.stack, database: state.database, ok: checks.every((c) => c.status !== "fail"), checks };
}

/** A warning while the installed pg_partman lacks security fixes that apply to the stack. */
function partmanVersionCheck(spec: StackSpec, state: DatabaseState): Check | null {
  if (!state.partman) return null;
  const message = partmanAdvisoryMessage(spec, state);
  if (!message) return { check: "partman-version", status: "ok", message: `pg_partman ${state.partman.version} has every published security fix that applies to this stack` };
  return { check: "partman-version", status: "warn", message, fix: upgradeAdvice(spec, state) };
}

function configCheck(t: TableSpec, p: ReturnType<typeof plan>, stack: string): Check {
  const problems = p.problems.filter((x) => x.table === t.name);
  const changes = p.steps.filter((s) => s.table === t.name && (s.action === "update-config" || s.action === "set-retention")).flatMap((s) => s.changes ?? []);
  if (problems.length > 0) return { check: "config", table: t.name, status: "fail", message: problems.map((x) => x.message).join("; ") };
  if (changes.length > 0) {
    const diffs = changes.map((c) => `${c.property} is ${fmt(c.from)}, declared ${fmt(c.to)}`);
    return { check: "config", table: t.name, status: "fail", message: `configuration differs from stack ${stack}: ${diffs.join(", ")}`, fix: `partman-stack plan --stack ${stack}, then apply` };
  }
  if (t.allowDataLoss) {
    // Left in the stack file, it would acknowledge the next retention shrink too, unasked.
    return {
      check: "config",
      table: t.name,
      status: "warn",
      message: `part_config and retention match stack ${stack}, but allowDataLoss: true is still declared: a later retention change that drops partitions would go through without the data-loss guard`,
      fix: `remove allowDataLoss from ${t.name}'s entry in stacks/Pulumi.${stack}.yaml now that the change it acknowledged is applied`,
    };
  }
  return { check: "config", table: t.name, status: "ok", message: `part_config and retention match stack ${stack}` };
}

/** Partitions must reach premake intervals past now (time), or past the highest id (integer range:
 *  a set without rows needs nothing, pg_partman makes partitions as ids arrive). */
function premakeCheck(t: TableSpec, ts: TableState, now: Date, m: MaintenanceSpec): Check {
  const premake = ts.partConfig!.premake;
  const bounded = ts.partitions.filter((x) => !x.isDefault && x.to);
  const last = bounded.length ? bounded[bounded.length - 1].to! : null;
  let covered: string | null;
  let needed: string;
  let reached: boolean;
  if (t.kind === "id") {
    const from = ts.maxId ?? 0;
    covered = last;
    needed = String(from + premake * t.interval.ids);
    reached = (last !== null && Number(last) >= Number(needed)) || (ts.maxId === null && last !== null);
  } else {
    let until = now;
    for (let i = 0; i < premake; i++) until = shiftTime(until, t.interval, 1);
    covered = last && new Date(last).toISOString();
    needed = until.toISOString();
    reached = last !== null && new Date(last) >= until;
  }
  const highest = `the highest ${t.kind === "id" && t.type === "list" ? "value" : "id"}`;
  const ahead = t.kind === "id" ? `past ${highest} (${ts.maxId ?? "none yet"})` : "ahead";
  if (reached) {
    return { check: "premake", table: t.name, status: "ok", message: `partitions reach ${covered}, at least ${premake} × ${t.interval.text} ${ahead}` };
  }
  return {
    check: "premake",
    table: t.name,
    status: "fail",
    message: `partitions reach only ${covered ?? "nowhere"}; premake ${premake} needs them until ${needed} (${t.kind === "id" ? `${premake} × ${t.interval.text} past ${highest} ${ts.maxId}; ` : ""}new rows past it land in the default partition)`,
    fix: `${maintenanceCommand(m)} (what the job runs); then check the maintenance job`,
  };
}

/** Every partition must start and end on an interval boundary in UTC and start where the one
 *  before it ends. pg_partman lays partitions out in the session's TimeZone: made in a session in
 *  America/New_York (a pg_cron job calling pg_partman directly, say), daily partitions start at
 *  04:00 or 05:00 UTC, or leave a day uncovered after the ones made in UTC. Rows moved out of the
 *  default partition get partitions of their own, leaving the days between uncovered. Rows for an
 *  uncovered range land in the default partition, and maintenance never fills it. */
function boundsCheck(t: TableSpec, ts: TableState, partman: PartmanInstall): Check {
  const base = { check: "bounds" as const, table: t.name };
  const off = ts.partitions.filter((p) => !p.isDefault && p.from && p.to && (!aligned(t, p.from) || !aligned(t, p.to)));
  if (off.length > 0) {
    return {
      ...base,
      status: "fail",
      message:
        t.kind === "id"
          ? `partitions off multiples of ${t.interval.text}: ${off.map((p) => `${p.name} [${p.from} → ${p.to}]`).join(", ")}`
          : `partitions off the ${t.interval.text} boundaries in UTC, as pg_partman makes them when it runs in another TimeZone: ${off.map((p) => `${p.name} [${p.from} → ${p.to}]`).join(", ")}`,
      fix: `make sure maintenance runs only through partman-stack (its job calls partman_stack.run_maintenance, which runs in UTC); then move those partitions' rows by hand (detach, re-create on UTC boundaries, copy back)`,
    };
  }
  const holes = gaps(ts);
  if (holes.length > 0) {
    return {
      ...base,
      status: "fail",
      message: `nothing covers ${holes.map((h) => `[${h.from} → ${h.to}) between ${h.after} and ${h.before}`).join(", ")}: rows for those times land in the default partition, and maintenance does not fill the gap`,
      fix: `partman-stack verify --fix (runs ${fillGapsSql(partman, t)})`,
    };
  }
  const n = ts.partitions.filter((p) => !p.isDefault).length;
  return { ...base, status: "ok", message: `${n} partition(s), contiguous, each on ${t.interval.text} boundaries${t.kind === "id" ? "" : " in UTC"}` };
}

function gaps(ts: TableState): { from: string; to: string; after: string; before: string }[] {
  const bounded = ts.partitions.filter((p) => !p.isDefault && p.from && p.to);
  return bounded.slice(1).flatMap((p, i) => (bounded[i].to !== p.from ? [{ from: bounded[i].to!, to: p.from!, after: bounded[i].name, before: p.name }] : []));
}

/** The table's latest maintenance run: a failure when it failed (the job itself still succeeds: the
 *  procedure records a set's error and goes on with the others), a warning when it deferred. */
function lastRunCheck(t: TableSpec, run: MaintenanceRun, spec: StackSpec): Check {
  const base = { check: "last-run" as const, table: t.name };
  if (run.error) {
    return {
      ...base,
      status: "fail",
      message: `the last maintenance run (${run.startedAt}) failed for ${t.name} (the other sets went on): ${run.error}; last succeeded: ${run.lastSucceededAt ?? "not in the runs kept (30 days)"}`,
      fix: `${failureFix(run, spec)}; the next maintenance run (or ${maintenanceCommand(spec.maintenance)}) then clears this`,
    };
  }
  return { ...base, status: run.deferredReason ? "warn" : "ok", message: `the last maintenance run (${run.startedAt}): ${describeRun(run)}` };
}

/** What to do about a set's failed maintenance: the error's own hint (partman-stack's errors carry
 *  one), or for errors pg_partman raises without one, what is known to cause them. */
function failureFix(run: MaintenanceRun, spec: StackSpec): string {
  if (run.errorHint) return run.errorHint;
  const error = run.error ?? "";
  if (/default partition .* would be violated/.test(error)) {
    return `rows in the default partition fall in the range of the partition maintenance makes next: partman-stack verify --fix --stack ${spec.stack} moves them into partitions of their own`;
  }
  if (/permission denied|must be owner/.test(error)) {
    return `the role maintenance runs as lacks the privilege named in the error: grant it back (partman-stack apply --stack ${spec.stack} checks the sets' ownership)`;
  }
  if (/already exists/.test(error)) {
    return `a table by the name of the partition maintenance makes next is in the way: rename or drop it if it is not the set's, or attach it`;
  }
  return `remove the cause named in the error (see ${MAINTENANCE_SCHEMA}.maintenance_runs and the server log)`;
}

/** Partitions past the retention horizon wait for the next maintenance run: a warning once a run
 *  deferred them (their locks were not free within maxLockWait), a failure once runs have deferred
 *  them for longer than two periods of the schedule. */
async function retentionCheck(db: Client, t: TableSpec, ts: TableState, state: DatabaseState, spec: StackSpec, now: Date): Promise<Check | null> {
  const retention = liveConfig(ts.partConfig!, ts.retention).retention;
  if (!retention) return null;
  const base = { check: "retention" as const, table: t.name };
  const run = ts.lastRun;
  const past = pastHorizon(retention, ts.partitions, positionOf(ts, now)).map((p) => p.name);
  if (past.length === 0) return { ...base, status: "ok", message: `no partition past the ${retention} horizon` };
  const first = state.maintenanceObjects
    ? (await db.query<{ at: Date | null }>(`SELECT min(started_at) AS at FROM ${MAINTENANCE_SCHEMA}.maintenance_runs WHERE parent_table = $1 AND deferred && $2::text[]`, [t.name, past])).rows[0].at
    : null;
  const waiting = `${past.length} partition(s) past the ${retention} horizon: ${past.join(", ")}`;
  if (!first) return { ...base, status: "ok", message: `${waiting}; the next maintenance run expires them` };
  const message = `${waiting}, deferred by maintenance since ${first.toISOString()}${run?.deferredReason ? ` (last run: ${run.deferredReason})` : ""}`;
  const period = spec.maintenance.enabled ? cronPeriodSeconds(spec.maintenance.schedule) : null;
  if (period !== null && (now.getTime() - first.getTime()) / 1000 > 2 * period) {
    return {
      ...base,
      status: "fail",
      message: `${message}: longer than two periods (${2 * period} s) of "${spec.maintenance.schedule}"`,
      fix: `find what holds the table (a long query, a session idle in a transaction: pg_stat_activity), or raise maintenance.maxLockWait`,
    };
  }
  return { ...base, status: "warn", message };
}

function aligned(t: TableSpec, bound: string): boolean {
  if (t.kind === "id") return Number(bound) % t.interval.ids === 0;
  const i = t.interval;
  const d = new Date(bound);
  if (i.months > 0 || i.days > 0) return d.getTime() % 86_400_000 === 0 && (i.months === 0 || d.getUTCDate() === 1);
  return d.getTime() % (i.microseconds / 1000) === 0;
}

/** `def`: the set's default partition as introspect found it in the catalog (TableState.defaultRelation). */
async function defaultRows(db: Client, def: string): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${def}`);
  return Number(r.rows[0].n);
}


/** pg_partman 5.2's partition_data_time refuses uuid and text keys, so their rows move the way it
 *  moves others, one partition's worth: the oldest range's rows out of the default partition (by
 *  their decoded time), its partition created (create_partition_time encodes the bounds), the rows
 *  back in through the parent. Runs in the transaction that locked the set and its default first. */
async function moveKeyedRows(db: Client, p: PartmanInstall, t: TableSpec & { kind: "time" }, def: string): Promise<number> {
  const range = bucket(t, q(t.control), p);
  const from = (await db.query<{ from: Date | null }>(`SELECT min(${range}) AS "from" FROM ${def}`)).rows[0].from;
  if (from === null) return 0;
  await db.query(`CREATE TEMP TABLE partman_stack_moving (LIKE ${q(t.schema)}.${q(t.table)}) ON COMMIT DROP`);
  await db.query(`WITH moved AS (DELETE FROM ${def} WHERE ${range} = $1 RETURNING *) INSERT INTO partman_stack_moving SELECT * FROM moved`, [from]);
  await db.query(`SELECT ${q(p.schema)}.create_partition_time(${quoteLiteral(t.name)}, ARRAY[$1::timestamptz])`, [from]);
  return (await db.query(`INSERT INTO ${q(t.schema)}.${q(t.table)} SELECT * FROM partman_stack_moving`)).rowCount ?? 0;
}

/** Runs work that attaches partitions to the set in a transaction of its own, the set and its
 *  default partition locked first, as maintenance locks them. */
function lockedOn(db: Client, t: TableSpec, ts: TableState, m: MaintenanceSpec) {
  const tables = [`${q(t.schema)}.${q(t.table)}`, ...(ts.defaultRelation ? [ts.defaultRelation] : [])];
  return <T>(work: () => Promise<T>) =>
    inTransaction(db, async () => {
      await db.query(requireLocksSql(tables, m));
      return work();
    });
}

/** The start of the partition-sized range a value falls in, as pg_partman aligns partitions. */
function bucket(t: TableSpec, control: string, partman: PartmanInstall): string {
  if (t.kind === "id") return `${control} - ${control} % ${t.interval.ids}`;
  const column = controlTimeSql(partman, t, control);
  const i: Interval = t.interval;
  if (i.months >= 12 && i.months % 12 === 0) return `date_trunc('year', ${column})`;
  if (i.months > 0) return `date_trunc('month', ${column})`;
  if (i.days === 7 && i.microseconds === 0) return `date_trunc('week', ${column})`;
  if (i.days === 1 && i.microseconds === 0) return `date_trunc('day', ${column})`;
  return `date_bin(${quoteLiteral(i.text)}::interval, ${column}, '2001-01-01')`;
}

async function defaultCheck(db: Client, t: TableSpec, ts: TableState, partman: PartmanInstall): Promise<Check> {
  const name = ts.defaultRelation;
  if (name === null) return { check: "default-partition", table: t.name, status: "ok", message: `no default partition: rows outside every partition are rejected` };
  const ranges = await db.query<{ from: Date | string; n: string }>(
    `SELECT ${bucket(t, q(t.control), partman)} AS "from", count(*) AS n FROM ${name} GROUP BY 1 ORDER BY 1`,
  );
  if (ranges.rows.length === 0) return { check: "default-partition", table: t.name, status: "ok", message: `${name} is empty` };
  const total = ranges.rows.reduce((n, r) => n + Number(r.n), 0);
  return {
    check: "default-partition",
    table: t.name,
    status: "fail",
    message: `${name} holds ${total} row(s), by ${t.interval.text} range: ${ranges.rows.map((r) => `${r.from instanceof Date ? r.from.toISOString() : r.from}: ${r.n}`).join(", ")}`,
    fix: `partman-stack verify --fix (${
      t.kind === "time" && t.timeCodec
        ? `per range above: its rows out of ${name}, ${q(partman.schema)}.create_partition_time for it, the rows back in`
        : `runs ${moveDefaultRowsSql(partman, t)} until it returns 0`
    }, then ${fillGapsSql(partman, t)}, each with the table locked first)`,
  };
}

/** EXPLAIN of a query bounded to the current partition's range must scan exactly the partitions
 *  overlapping it; an unbounded one is reported with how many it scans. */
async function pruningChecks(db: Client, t: TableSpec, ts: TableState, now: Date, partman: PartmanInstall, m: MaintenanceSpec): Promise<Check[]> {
  // Bounds as positions: ids, or times; the current partition holds the highest id, or now.
  const at = (bound: string) => (t.kind === "id" ? Number(bound) : Date.parse(bound));
  const point = t.kind === "id" ? ts.maxId ?? 0 : now.getTime();
  const bounded = ts.partitions.filter((x) => !x.isDefault && x.from && x.to);
  const current = bounded.find((x) => at(x.from!) <= point && point < at(x.to!)) ?? bounded[bounded.length - 1];
  if (!current) return [{ check: "pruning", table: t.name, status: "fail", message: `${t.name} has no bounded partitions to prune to`, fix: `${maintenanceCommand(m)} (what the job runs)` }];
  const table = `${q(t.schema)}.${q(t.table)}`;
  // An epoch column is compared with its own integers, a uuid or text one with its encoder's keys, as
  // the application's queries compare them.
  const codec = timeCodecFunctions(partman, t);
  const literal = async (bound: string) =>
    quoteLiteral(
      t.kind === "time" && t.epoch ? epochValue(bound, t.epoch)
      : codec ? (await db.query<{ v: string }>(`SELECT ${codec.encoder}($1::timestamptz)::text AS v`, [bound])).rows[0].v
      : bound,
    );
  const lo = await literal(current.from!);
  const hi = await literal(current.to!);
  // A sub-partitioned set's scans read sub-partitions: counted as the partitions holding them.
  const scans = async (query: string) => {
    const leaves = await scannedRelations(db, query);
    if (!t.subpartition) return leaves;
    const r = await db.query<{ name: string }>(
      `SELECT DISTINCT c.relname::text AS name FROM unnest($1::text[]) s(name)
         CROSS JOIN LATERAL pg_partition_ancestors(to_regclass(quote_ident($2) || '.' || quote_ident(s.name))) a(relid)
         JOIN pg_inherits i ON i.inhrelid = a.relid AND i.inhparent = $3::regclass
         JOIN pg_class c ON c.oid = a.relid ORDER BY 1`,
      [leaves, t.schema, table],
    );
    return r.rows.map((x) => x.name);
  };
  // A list set's partition is found by its value: PostgreSQL cannot rule the default partition out of
  // a range between listed integers.
  const list = t.kind === "id" && t.type === "list";
  const condition = list ? `= ${current.value}` : `within [${current.from}, ${current.to})`;
  const scanned = await scans(`SELECT * FROM ${table} WHERE ${list ? `${q(t.control)} = ${lo}` : `${q(t.control)} >= ${lo} AND ${q(t.control)} < ${hi}`}`);
  const expected = bounded.filter((x) => at(x.from!) < at(current.to!) && at(x.to!) > at(current.from!)).map((x) => x.name);
  const all = await scans(`SELECT * FROM ${table}`);
  const ok = scanned.length === expected.length && expected.every((n) => scanned.includes(n));
  return [
    {
      check: "pruning",
      table: t.name,
      status: ok ? "ok" : "fail",
      message: ok
        ? `a query on ${t.control} ${condition} scans only ${expected.join(", ")}; a query without a bound on ${t.control} scans all ${all.length} partition(s)`
        : `a query on ${t.control} ${condition} scans ${scanned.join(", ") || "nothing"}, expected only ${expected.join(", ")}`,
      ...(ok ? {} : { fix: `check enable_partition_pruning and the partition bounds of ${t.name}` }),
    },
  ];
}

function jobCheck(spec: StackSpec, state: DatabaseState, now: Date): Check {
  const m = spec.maintenance;
  const job = state.cron.job;
  const base = { check: "maintenance-job" as const };
  const apply = `partman-stack apply --stack ${spec.stack}`;
  if (!m.enabled) return { ...base, status: "ok", message: `maintenance is disabled in stack ${spec.stack}; run it yourself` };
  if (!job) return { ...base, status: "fail", message: `pg_cron job ${m.jobName} does not exist`, fix: apply };
  if (job.schedule !== m.schedule) return { ...base, status: "fail", message: `pg_cron job ${m.jobName} runs at "${job.schedule}", declared "${m.schedule}"`, fix: apply };
  if (!job.active) return { ...base, status: "fail", message: `pg_cron job ${m.jobName} is not active`, fix: apply };
  const command = maintenanceCommand(m);
  if (job.command !== command || (state.partman && state.maintenanceObjects !== maintenanceObjects(state.partman).mark)) {
    return {
      ...base,
      status: "fail",
      message:
        `pg_cron job ${m.jobName} runs "${job.command}"${state.maintenanceObjects ? "" : " and partman_stack is not installed"}, ` +
        `not "${command}" with partman-stack's current procedures: pg_partman's maintenance may then run in the server's TimeZone, ` +
        `or drop partitions without a lock_timeout (deadlocking with queries and stalling the table)`,
      fix: apply,
    };
  }
  const last = state.cron.lastRun;
  if (!last) return { ...base, status: "warn", message: `pg_cron job ${m.jobName} ("${m.schedule}") has no run recorded yet` };
  if (last.status === "failed") return { ...base, status: "fail", message: `the last run of pg_cron job ${m.jobName} (${last.start}) failed: ${last.message}`, fix: `see cron.job_run_details in database ${state.cron.database}` };
  const period = cronPeriodSeconds(m.schedule);
  const age = last.start ? (now.getTime() - Date.parse(last.start)) / 1000 : Infinity;
  if (age > 2 * period) {
    return {
      ...base,
      status: "fail",
      message: `the last run of pg_cron job ${m.jobName} was at ${last.start}, more than two periods (${2 * period} s) of "${m.schedule}" ago`,
      fix: `check that pg_cron runs (cron.database_name, the server log) and that the job's database is reachable`,
    };
  }
  return { ...base, status: "ok", message: `pg_cron job ${m.jobName} ("${m.schedule}") runs pg_partman's maintenance in UTC; last ran ${Math.round(age)} s ago: ${last.status}` };
}
