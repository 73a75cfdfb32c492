// Reads what a database actually has, for the tables and job a stack declares. Read-only.

import type { Client, QueryResultRow } from "pg";
import type { StackSpec } from "../config/types";
import type { Session } from "../db/session";
import { qualifiedFunction, quoteIdent } from "../config/identifiers";
import { EPOCH_UNITS, isEpochUnit, type EpochUnit } from "../config/span";
import { requireOwnership } from "./ownership";
import { readPartConfig, readSubConfig, undeclaredSets, type PartConfigRow, type RetentionRow } from "../partman/config";
import { installedPartman } from "../partman/extension";
import { MAINTENANCE_SCHEMA } from "../partman/maintenance-objects";
import type { PartmanInstall } from "../partman/version";
import { PartmanStackError } from "../config/errors";

export interface PartitionInfo {
  name: string;
  /** The range [from, to): ISO timestamps (time sets, epoch ones too) or ids (integer-range sets);
   *  null for the default partition. */
  from: string | null;
  to: string | null;
  /** A list set's partition: the one value it holds (its range is [value, value + 1)); null otherwise. */
  value: string | null;
  isDefault: boolean;
  bytes: number;
  /** Counted (rowsExact) when the partition's heap is at most EXACT_COUNT_MAX_BYTES, otherwise
   *  pg_class.reltuples, ANALYZE's estimate; null: a bigger partition never analyzed or vacuumed. */
  rows: number | null;
  rowsExact: boolean;
}

/** Partitions up to this size (heap, as pg_relation_size) are counted exactly: a count(*) that
 *  reads at most 10 MB, where reltuples would be missing (-1 until ANALYZE) or stale. */
export const EXACT_COUNT_MAX_BYTES = 10 * 1024 * 1024;

/** The latest row of partman_stack.maintenance_runs for a set. */
export interface MaintenanceRun {
  startedAt: string;
  finishedAt: string | null;
  created: string[];
  expired: string[];
  /** Partitions past the horizon the run left in place, and why. */
  deferred: string[];
  deferredReason: string | null;
  attempts: number;
  waitedMs: number;
  /** Why the run failed for this set (which step, the message, its detail), and what to do about it. */
  error: string | null;
  errorHint: string | null;
  /** When the set's latest run without an error ended (kept 30 days); null: none recorded. */
  lastSucceededAt: string | null;
}

export interface TableState {
  name: string;
  /** pg_class.relkind: p = partitioned table, r = plain table, v = view, …; null = absent. */
  relkind: string | null;
  /** r = range, l = list, h = hash; null unless partitioned. */
  strategy: string | null;
  keyColumns: string[];
  /** time: partitioned on a timestamptz, timestamp or date column, or on an integer one holding
   *  epoch times (part_config.epoch); id: on a smallint, integer or bigint one; null otherwise or
   *  unless partitioned. */
  kind: "time" | "id" | null;
  /** An integer-range set's highest id (retention and premake are measured from it); null while
   *  it holds no row, and for other sets. */
  maxId: number | null;
  columns: string[];
  hasDefault: boolean;
  /** The default partition as SQL names it (schema.table, quoted where needed), as the catalog has
   *  it (pg_inherits, bound DEFAULT): never derived from the parent's name. null: none. */
  defaultRelation: string | null;
  childCount: number;
  partConfig: PartConfigRow | null;
  /** null: no retention in partman_stack.retention (none declared, or partman-stack not installed). */
  retention: RetentionRow | null;
  lastRun: MaintenanceRun | null;
  /** Attached partitions, oldest first, the default partition last. */
  partitions: PartitionInfo[];
  /** pg_partman's part_config_sub row (sub-partitions), its sub_ columns named as part_config's;
   *  null: the set's partitions are not partitioned by pg_partman. */
  subConfig: PartConfigRow | null;
  /** The sub-partitions' retention in partman_stack.sub_retention. */
  subRetention: RetentionRow | null;
  /** The partitions that are partitioned in turn (sub-parents), each as a set of its own. */
  subParents: TableState[];
}

export interface CronJob {
  jobid: number;
  jobname: string;
  schedule: string;
  command: string;
  database: string;
  username: string;
  active: boolean;
}

export interface JobRun {
  status: string;
  start: string | null;
  end: string | null;
  message: string | null;
}

export interface CronState {
  preloaded: boolean;
  /** cron.database_name: where the extension and its jobs live. */
  database: string | null;
  /** Installed pg_cron version in that database; null if the extension is not created. */
  version: string | null;
  availableVersion: string | null;
  /** The job named maintenance.jobName that maintains this database, whichever user scheduled it. */
  job: CronJob | null;
  /** Its latest run (cron.job_run_details). */
  lastRun: JobRun | null;
  /** Other jobs of that name in the way: a second one for this database, or the acting role's for
   *  another database (pg_cron keeps one job per name and user: scheduling would take it over). */
  clashes: CronJob[];
}

/** What the server and database are, apart from partman-stack's own objects and the tables. */
export interface ServerState {
  database: string;
  /** The server's now(), ISO: retention horizons are computed from it. */
  now: string;
  serverVersion: string;
  user: string;
  superuser: boolean;
  partman: PartmanInstall | null;
  partmanAvailable: string[];
  /** The version CREATE EXTENSION installs when none is named. */
  partmanDefault: string | null;
  /** Whether pg_jobmon is installed in the database (pg_partman logs its runs there when it is). */
  jobmon: boolean;
  cron: CronState;
}

export interface DatabaseState extends ServerState {
  /** The declared tables' and retention schemas that exist, with their owners and the other roles
   *  (or PUBLIC) that may create objects in them. */
  schemas: string[];
  schemaOwners: Record<string, { owner: string; creators: string[] }>;
  tables: Record<string, TableState>;
  /** Partition sets registered with pg_partman that the stack does not declare. */
  undeclared: string[];
  /** The comment marking the installed version of partman-stack's objects (see maintenanceObjects);
   *  null when they are not installed. */
  maintenanceObjects: string | null;
}

/** Reads nothing of partman-stack's own objects: safe whoever owns them (ServerPreflight). */
export async function introspectServer(session: Session, jobName: string): Promise<ServerState> {
  const db = session.target;
  const base = (
    await db.query<{ database: string; version: string; user: string; superuser: boolean; now: Date }>(
      `SELECT current_database() AS database, current_setting('server_version') AS version, now() AS now,
              current_user AS user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    )
  ).rows[0];

  const partman = await installedPartman(db);
  const jobmon = (await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_jobmon'`)).rowCount! > 0;
  const available = await db.query<{ version: string; is_default: boolean }>(
    `SELECT v.version, v.version = e.default_version AS is_default
       FROM pg_available_extension_versions v JOIN pg_available_extensions e ON e.name = v.name
      WHERE v.name = 'pg_partman' ORDER BY v.version`,
  );

  return {
    database: base.database,
    now: base.now.toISOString(),
    serverVersion: base.version,
    user: base.user,
    superuser: base.superuser,
    partman,
    partmanAvailable: available.rows.map((r) => r.version),
    partmanDefault: available.rows.find((r) => r.is_default)?.version ?? null,
    jobmon,
    cron: await cronState(session, jobName),
  };
}

export async function introspect(session: Session, spec: StackSpec): Promise<DatabaseState> {
  const db = session.target;
  // Before anything is read from partman_stack: what is there may not be read at all.
  await requireOwnership(db, spec);
  const server = await introspectServer(session, spec.maintenance.jobName);
  const partman = server.partman;
  const wantedSchemas = [...new Set(spec.tables.flatMap((t) => [t.schema, t.retentionSchema ?? []]).flat())];
  const schemaRows = (
    await db.query<{ nspname: string; owner: string; creators: string[] }>(
      `SELECT nspname, pg_get_userbyid(nspowner) AS owner,
              ARRAY(SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END FROM aclexplode(nspacl) a
                     WHERE a.privilege_type = 'CREATE' AND a.grantee <> nspowner ORDER BY 1) AS creators
         FROM pg_namespace WHERE nspname = ANY($1)`,
      [wantedSchemas],
    )
  ).rows;

  const objects = (
    await db.query<{ mark: string | null; installed: boolean }>(
      `SELECT obj_description(n.oid, 'pg_namespace') AS mark, to_regclass($2) IS NOT NULL AS installed FROM pg_namespace n WHERE n.nspname = $1`,
      [MAINTENANCE_SCHEMA, `${MAINTENANCE_SCHEMA}.maintenance_runs`],
    )
  ).rows[0];
  const tables: Record<string, TableState> = {};
  for (const t of spec.tables) tables[t.name] = await tableState(db, t.schema, t.table, partman, objects?.installed ?? false);

  const undeclared = partman ? await undeclaredSets(db, partman, spec.tables.map((t) => t.name)) : [];

  return {
    ...server,
    schemas: schemaRows.map((r) => r.nspname),
    schemaOwners: Object.fromEntries(schemaRows.map((r) => [r.nspname, { owner: r.owner, creators: r.creators }])),
    tables,
    undeclared,
    maintenanceObjects: objects?.mark ?? null,
  };
}

async function tableState(db: Client, schema: string, table: string, partman: PartmanInstall | null, objects: boolean, level: "set" | "sub" = "set"): Promise<TableState> {
  const name = `${schema}.${table}`;
  const rel = (
    await db.query<{ relkind: string; strategy: string | null; key_columns: string[] | null; kind: "time" | "id" | null; columns: string[]; default_relation: string | null; children: number }>(
      `SELECT c.relkind::text AS relkind, pt.partstrat::text AS strategy,
              (SELECT CASE WHEN a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN 'time'
                           WHEN a.atttypid IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN 'id' END
                 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = pt.partattrs[0]) AS kind,
              (SELECT array_agg(a.attname::text ORDER BY k.ord)
                 FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS key_columns,
              (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
              (SELECT format('%I.%I', dn.nspname, d.relname) FROM pg_inherits i JOIN pg_class d ON d.oid = i.inhrelid
                 JOIN pg_namespace dn ON dn.oid = d.relnamespace
                WHERE i.inhparent = c.oid AND d.relpartbound IS NOT NULL
                  AND pg_get_expr(d.relpartbound, d.oid) = 'DEFAULT') AS default_relation,
              (SELECT count(*)::int FROM pg_inherits i WHERE i.inhparent = c.oid) AS children
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
        WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    )
  ).rows[0];
  const partConfig = partman ? await readPartConfig(db, partman, name) : null;
  const sub = partman && level === "set" ? await subpartitionState(db, name, partman, objects) : { subConfig: null, subRetention: null, subParents: [] };
  const epoch = partConfig && partConfig.epoch !== "none" && isEpochUnit(partConfig.epoch) ? partConfig.epoch : null;
  // The decoder as a quoted name (regproc's output) to call it by: never the catalog's text as is.
  const decoder = partConfig?.time_decoder
    ? (await db.query<{ f: string }>(`SELECT $1::regproc::text AS f`, [qualifiedFunction(partConfig.time_decoder, schema)])).rows[0].f
    : null;
  const kind = rel?.relkind !== "p" ? null : (epoch && rel.kind === "id") || decoder ? "time" : rel.kind;
  return {
    name,
    relkind: rel?.relkind ?? null,
    strategy: rel?.strategy ?? null,
    keyColumns: rel?.key_columns ?? [],
    kind,
    maxId: kind === "id" ? await maxId(db, schema, table, rel!.key_columns![0]) : null,
    columns: rel?.columns ?? [],
    hasDefault: (rel?.default_relation ?? null) !== null,
    defaultRelation: rel?.default_relation ?? null,
    childCount: rel?.children ?? 0,
    partConfig,
    ...(objects ? await maintenanceState(db, name) : { retention: null, lastRun: null }),
    partitions: rel?.relkind === "p" ? await partitionsOf(db, schema, table, kind, epoch, decoder) : [],
    ...sub,
  };
}

async function subpartitionState(db: Client, name: string, partman: PartmanInstall, objects: boolean): Promise<Pick<TableState, "subConfig" | "subRetention" | "subParents">> {
  const subConfig = await readSubConfig(db, partman, name);
  const subRetention = objects
    ? (await db.query<RetentionRow>(`SELECT retention, keep_table, retention_schema FROM ${MAINTENANCE_SCHEMA}.sub_retention WHERE parent_table = $1`, [name])).rows[0] ?? null
    : null;
  const children = (
    await db.query<{ schema: string; table: string }>(
      `SELECT n.nspname AS schema, c.relname AS table FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = to_regclass($1) AND c.relkind = 'p' ORDER BY c.relname`,
      [name],
    )
  ).rows;
  const subParents: TableState[] = [];
  for (const c of children) subParents.push(await tableState(db, c.schema, c.table, partman, objects, "sub"));
  return { subConfig, subRetention, subParents };
}

/** max(id) reads each partition's index under ACCESS SHARE, which queues only behind a DROP or
 *  DETACH: bounded, so a plan fails naming that rather than waits behind it. */
async function maxId(db: Client, schema: string, table: string, control: string): Promise<number | null> {
  await db.query("BEGIN READ ONLY");
  try {
    await db.query("SET LOCAL lock_timeout = '2s'");
    const r = await db.query<{ max: string | null }>(`SELECT max(${quoteIdent(control)})::text AS max FROM ${quoteIdent(schema)}.${quoteIdent(table)}`);
    return r.rows[0].max === null ? null : Number(r.rows[0].max);
  } catch (err) {
    if ((err as { code?: string }).code !== "55P03") throw err;
    throw new PartmanStackError(
      `cannot read the highest ${control} of ${schema}.${table} (its retention and premake are measured from it): another session held a lock on it for 2 s ` +
        `(a DROP, DETACH or ALTER waiting or running: see pg_locks)`,
      "run again once it is done",
      { join: "; " },
    );
  } finally {
    await db.query("COMMIT");
  }
}

async function maintenanceState(db: Client, name: string): Promise<Pick<TableState, "retention" | "lastRun">> {
  const retention = (
    await db.query<RetentionRow>(`SELECT retention, keep_table, retention_schema FROM ${MAINTENANCE_SCHEMA}.retention WHERE parent_table = $1`, [name])
  ).rows[0];
  return { retention: retention ?? null, lastRun: await lastMaintenanceRun(db, name) };
}

/** The latest maintenance run of a set, from partman_stack.maintenance_runs. */
export async function lastMaintenanceRun(db: Client, name: string): Promise<MaintenanceRun | null> {
  const run = (
    await db.query<{
      started_at: Date; finished_at: Date | null; created: string[]; expired: string[]; deferred: string[]; deferred_reason: string | null;
      attempts: number; waited_ms: number; error: string | null; error_hint: string | null; last_succeeded_at: Date | null;
    }>(
      // error_hint through to_jsonb: an install older than the column is read before apply updates it.
      `SELECT started_at, finished_at, created, expired, deferred, deferred_reason, attempts, waited_ms, error, to_jsonb(r)->>'error_hint' AS error_hint,
              (SELECT max(s.finished_at) FROM ${MAINTENANCE_SCHEMA}.maintenance_runs s
                WHERE s.parent_table = r.parent_table AND s.error IS NULL AND s.finished_at IS NOT NULL) AS last_succeeded_at
         FROM ${MAINTENANCE_SCHEMA}.maintenance_runs r WHERE parent_table = $1 ORDER BY started_at DESC LIMIT 1`,
      [name],
    )
  ).rows[0];
  return run
    ? {
        startedAt: run.started_at.toISOString(),
        finishedAt: run.finished_at?.toISOString() ?? null,
        created: run.created,
        expired: run.expired,
        deferred: run.deferred,
        deferredReason: run.deferred_reason,
        attempts: run.attempts,
        waitedMs: run.waited_ms,
        error: run.error,
        errorHint: run.error_hint,
        lastSucceededAt: run.last_succeeded_at?.toISOString() ?? null,
      }
    : null;
}

/** The bounds as partman_stack.partition_bounds reads them (sql/maintenance/partition_bounds.sql:
 *  a list partition's value n as [n, n + 1)), here for a database partman-stack has not installed
 *  its objects in yet. */
async function partitionsOf(db: Client, schema: string, table: string, kind: TableState["kind"], epoch: EpochUnit | null, decoder: string | null): Promise<PartitionInfo[]> {
  const time = (bound: string) =>
    `CASE WHEN $5::numeric IS NOT NULL THEN to_timestamp(${bound}::numeric / $5) WHEN NOT $4 THEN ${decoder ? `${decoder}(${bound})` : `${bound}::timestamptz`} END`;
  const rows = await db.query<{ name: string; rel: string; from_id: string | null; to_id: string | null; from_time: Date | null; to_time: Date | null; is_default: boolean; listed: boolean; bytes: string; reltuples: number; countable: boolean }>(
    `SELECT c.relname AS name, format('%I.%I', pn.nspname, c.relname) AS rel,
            CASE WHEN $4 THEN b.m[1]::numeric::text END AS from_id, CASE WHEN $4 THEN b.m[2]::numeric::text END AS to_id,
            ${time("b.m[1]")} AS from_time, ${time("b.m[2]")} AS to_time,
            pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default, pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES IN %' AS listed,
            t.bytes, c.reltuples::float8 AS reltuples,
            t.heap <= $3 AND has_table_privilege(c.oid, 'SELECT') AS countable
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_namespace pn ON pn.oid = c.relnamespace
       -- A partition that is partitioned in turn: its sub-partitions' sizes.
       CROSS JOIN LATERAL (SELECT sum(pg_total_relation_size(relid)) AS bytes, sum(pg_relation_size(relid)) AS heap FROM pg_partition_tree(c.oid)) t
       CROSS JOIN LATERAL (SELECT coalesce(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''?([^'')]*)''?\\) TO \\(''?([^'')]*)''?\\)'),
                                           (SELECT ARRAY[v[1], (v[1]::numeric + 1)::text]
                                              FROM regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES IN \\(''?(-?\\d+)''?\\)$') AS v)) AS m) b
      WHERE i.inhparent = (SELECT c2.oid FROM pg_class c2 JOIN pg_namespace n ON n.oid = c2.relnamespace
                            WHERE n.nspname = $1 AND c2.relname = $2)
      ORDER BY is_default, CASE WHEN $4 THEN b.m[1]::numeric END, from_time`,
    [schema, table, EXACT_COUNT_MAX_BYTES, kind === "id", epoch && EPOCH_UNITS[epoch]],
  );
  const counts = await exactCounts(db, rows.rows.filter((r) => r.countable).map((r) => r.rel));
  return rows.rows.map((r) => {
    const exact = counts.get(r.rel);
    return {
      name: r.name,
      from: r.from_id ?? r.from_time?.toISOString() ?? null,
      to: r.to_id ?? r.to_time?.toISOString() ?? null,
      value: r.listed ? r.from_id : null,
      isDefault: r.is_default,
      bytes: Number(r.bytes),
      rows: exact ?? (r.reltuples < 0 ? null : Math.round(r.reltuples)),
      rowsExact: exact !== undefined,
    };
  });
}

/** count(*) of the given (small) partitions in one statement. Bounded: it waits at most 100 ms for
 *  a lock (ACCESS SHARE, queued only behind a DROP, DETACH or similar) and runs at most 2 s; when
 *  either runs out, no count is returned and the estimates stand. */
async function exactCounts(db: Client, rels: string[]): Promise<Map<string, number>> {
  if (rels.length === 0) return new Map();
  await db.query("BEGIN READ ONLY");
  try {
    await db.query("SET LOCAL lock_timeout = '100ms'; SET LOCAL statement_timeout = '2s'");
    const r = await db.query<{ i: number; n: string }>(rels.map((rel, i) => `SELECT ${i} AS i, count(*) AS n FROM ${rel}`).join(" UNION ALL "));
    return new Map(r.rows.map((x) => [rels[x.i], Number(x.n)]));
  } catch (err) {
    // 55P03 lock_not_available, 57014 query_canceled (the statement timeout).
    if (["55P03", "57014"].includes((err as { code?: string }).code ?? "")) return new Map();
    throw err;
  } finally {
    await db.query("COMMIT");
  }
}

async function cronState(session: Session, jobName: string): Promise<CronState> {
  const settings = await asSessionUser(session.target, (db) =>
    db.query<{ preload: string; database: string | null }>(
      `SELECT current_setting('shared_preload_libraries') AS preload, current_setting('cron.database_name', true) AS database`,
    ),
  ).catch((err: Error) => {
    throw new PartmanStackError(
      `cannot read shared_preload_libraries and cron.database_name (${err.message}), which partman-stack checks before scheduling maintenance`,
      `GRANT pg_read_all_settings TO the connecting role (or connect as an admin role)`,
    );
  });
  const preloaded = settings.rows[0].preload.split(",").map((x) => x.trim().replace(/^"|"$/g, "")).includes("pg_cron");
  const state: CronState = { preloaded, database: null, version: null, availableVersion: null, job: null, lastRun: null, clashes: [] };
  if (!preloaded) return state;
  state.database = settings.rows[0].database || "postgres";
  const cronDb = await session.on(state.database);
  const ext = await cronDb.query<{ installed: string | null; available: string | null }>(
    `SELECT installed_version AS installed, default_version AS available FROM pg_available_extensions WHERE name = 'pg_cron'`,
  );
  state.version = ext.rows[0]?.installed ?? null;
  state.availableVersion = ext.rows[0]?.available ?? null;
  if (!state.version) return state;
  // cron.job and cron.job_run_details show each role only its own rows (row-level security): read
  // them as the acting role and as the connecting user, so a job is found whoever scheduled it.
  const read = async <R extends QueryResultRow>(sql: string, params: unknown[]) => [
    ...(await cronDb.query<R>(sql, params)).rows,
    ...(await asSessionUser(cronDb, (db) => db.query<R>(sql, params))).rows,
  ];
  const named = unique(
    await read<CronJob>(
      `SELECT jobid::int AS jobid, jobname::text AS jobname, schedule, command, database, username, active FROM cron.job WHERE jobname = $1`,
      [jobName],
    ),
  );
  const ours = named.filter((j) => j.database === session.database);
  state.job = ours.find((j) => j.username === session.role) ?? ours[0] ?? null;
  state.clashes = named.filter((j) => j !== state.job && (j.database === session.database || j.username === session.role));
  if (state.job) {
    const runs = await read<{ status: string; start_time: Date | null; end_time: Date | null; return_message: string | null }>(
      `SELECT status, start_time, end_time, return_message FROM cron.job_run_details WHERE jobid = $1 ORDER BY start_time DESC NULLS LAST LIMIT 1`,
      [state.job.jobid],
    );
    const last = runs.sort((a, b) => (b.start_time?.getTime() ?? 0) - (a.start_time?.getTime() ?? 0))[0];
    state.lastRun = last
      ? { status: last.status, start: last.start_time?.toISOString() ?? null, end: last.end_time?.toISOString() ?? null, message: last.return_message }
      : null;
  }
  return state;
}

function unique(jobs: CronJob[]): CronJob[] {
  return [...new Map(jobs.map((j) => [j.jobid, j])).values()].sort((a, b) => a.jobid - b.jobid);
}

/** Runs fn as the user the session connected as (SET LOCAL ROLE NONE), for what only it may read:
 *  server settings (superuser or pg_read_all_settings) and its own cron jobs. */
async function asSessionUser<T>(db: Client, fn: (db: Client) => Promise<T>): Promise<T> {
  await db.query("BEGIN");
  try {
    await db.query("SET LOCAL ROLE NONE");
    return await fn(db);
  } finally {
    await db.query("COMMIT");
  }
}
