// pg_partman's dialect: everything that differs between its releases (4.x, 5.2, 5.4+, 5.5+) lives in this folder; the
// rest of the engine asks it for SQL and never branches on the version itself.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { MaintenanceSpec, TableSpec } from "../config/types";
import { defaultPartitionName } from "../config/derived-names";
import { qualifiedFunction, quoteIdent, quoteLiteral } from "../config/identifiers";
import { EPOCH_UNITS } from "../config/span";
import type { PartConfigRow, RetentionRow, TableState } from "../engine/introspect";
import { PACKAGE_ROOT } from "../package-root";
import { assertTrustedSchemaSql } from "../engine/schema-trust";

export interface PartmanInstall {
  version: string;
  major: number;
  schema: string;
  /** 5.4+: create_partition / create_sub_partition (create_parent / create_sub_parent remain as aliases). */
  createPartition: boolean;
  /** 5.5+: pg_partman quotes a time encoder's or decoder's name itself (each part with %I), so it
   *  is given and stored unquoted; before, it interpolated the name as given. */
  quotesCodecNames: boolean;
}

/** A release's version as numbers, for comparisons: "5.2.4" → [5, 2, 4]. */
export function versionParts(version: string): number[] {
  return version.split(".").map((n) => Number.parseInt(n, 10) || 0);
}

/** Whether `version` is `min` or later. */
export function versionAtLeast(version: string, min: string): boolean {
  const [a, b] = [versionParts(version), versionParts(min)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

export function partmanInstall(version: string, schema: string): PartmanInstall {
  return {
    version,
    major: versionParts(version)[0],
    schema,
    createPartition: versionAtLeast(version, "5.4.0"),
    quotesCodecNames: versionAtLeast(version, "5.5.0"),
  };
}

/** The configuration partman-stack manages for a set, as declared: pg_partman's part_config
 *  columns (PARTMAN_COLUMNS), and the retention partman-stack keeps in partman_stack.retention
 *  (RETENTION_COLUMNS), named as pg_partman's columns are. */
export interface ManagedConfig {
  premake: number;
  retention: string | null;
  retention_keep_table: boolean;
  retention_schema: string | null;
  infinite_time_partitions: boolean;
  automatic_maintenance: "on" | "off";
}

export const PARTMAN_COLUMNS = ["premake", "infinite_time_partitions", "automatic_maintenance"] as const;
export const RETENTION_COLUMNS = ["retention", "retention_keep_table", "retention_schema"] as const;

/** The declaration key behind each managed column. */
export const DECLARED_COLUMNS = [
  ["premake", "premake"],
  ["retention", "retention"],
  ["retentionKeepTable", "retention_keep_table"],
  ["retentionSchema", "retention_schema"],
  ["infiniteTimePartitions", "infinite_time_partitions"],
] as const;

/** Without retention, keeping or moving expired partitions means nothing: normalized away. */
function retentionOf(retention: string | null, keepTable: boolean, schema: string | null): Pick<ManagedConfig, (typeof RETENTION_COLUMNS)[number]> {
  return retention === null
    ? { retention: null, retention_keep_table: false, retention_schema: null }
    : { retention, retention_keep_table: keepTable, retention_schema: schema };
}

/** A set's own partitions, or its sub-partitions (part_config_sub, the part_config rows of its
 *  partitions that are partitioned in turn, and partman_stack.sub_retention). */
export type ConfigLevel = "set" | "sub";

export function desiredConfig(t: TableSpec, level: ConfigLevel = "set"): ManagedConfig {
  const s = level === "sub" ? t.subpartition! : t;
  return {
    premake: s.premake,
    ...retentionOf(s.retention?.text ?? null, s.retentionKeepTable, level === "sub" ? null : t.retentionSchema),
    infinite_time_partitions: t.infiniteTimePartitions,
    // Maintenance of every set (the job's) skips sets whose automatic_maintenance is off.
    automatic_maintenance: "on",
  };
}

/** What is in force: part_config's columns, and the retention in partman_stack.retention, or, until
 *  partman-stack has moved it there, pg_partman's own (it is what pg_partman would apply). */
export function liveConfig(row: PartConfigRow, retention: RetentionRow | null): ManagedConfig {
  return {
    premake: row.premake,
    ...(retention
      ? retentionOf(retention.retention, retention.keep_table, retention.retention_schema)
      : retentionOf(row.retention, row.retention_keep_table, row.retention_schema)),
    infinite_time_partitions: row.infinite_time_partitions,
    automatic_maintenance: row.automatic_maintenance === "off" ? "off" : "on",
  };
}

/** create_parent (create_partition on 5.4+) always with named arguments: 5.x moved p_interval to third place. */
export function createParentSql(p: PartmanInstall, t: TableSpec): string {
  const args: string[] = [
    `p_parent_table => ${quoteLiteral(`${t.schema}.${t.table}`)}`,
    `p_control => ${quoteLiteral(t.control)}`,
  ];
  if (p.major < 5) args.push(`p_type => 'native'`);
  else if (t.kind === "id" && t.type === "list") args.push(`p_type => 'list'`);
  args.push(`p_interval => ${quoteLiteral(t.interval.text)}`);
  if (t.kind === "time" && t.epoch) args.push(`p_epoch => ${quoteLiteral(t.epoch)}`);
  const codec = timeCodecNames(p, t);
  if (codec) args.push(`p_time_encoder => ${quoteLiteral(codec.encoder)}`, `p_time_decoder => ${quoteLiteral(codec.decoder)}`);
  args.push(`p_premake => ${t.premake}`);
  if (t.startPartition) args.push(`p_start_partition => ${quoteLiteral(t.startPartition)}`);
  // 4.x always creates the default partition; see dropFreshDefaultSql.
  if (p.major >= 5) args.push(`p_default_table => ${t.defaultPartition}`);
  return `SELECT ${quoteIdent(p.schema)}.${p.createPartition ? "create_partition" : "create_parent"}(${args.join(", ")});`;
}

/** Partitions every partition of a set just registered (create_parent): 4.x's p_type is 'native'
 *  and its confirmation p_native_check, 5.x's 'range' and p_declarative_check. create_sub_parent
 *  drops and recreates the set's existing partitions: plan calls it only while they are empty.
 *  Each sub-parent gets a default partition (4.x always makes one). */
export function createSubParentSql(p: PartmanInstall, t: TableSpec): string {
  const s = t.subpartition!;
  const args: string[] = [`p_top_parent => ${quoteLiteral(t.name)}`, `p_control => ${quoteLiteral(s.control)}`];
  args.push(p.major < 5 ? `p_type => 'native'` : `p_type => 'range'`, `p_interval => ${quoteLiteral(s.interval.text)}`);
  args.push(p.major < 5 ? `p_native_check => 'yes'` : `p_declarative_check => 'yes'`);
  if (s.kind === "time" && s.epoch) args.push(`p_epoch => ${quoteLiteral(s.epoch)}`);
  args.push(`p_premake => ${s.premake}`);
  return `SELECT ${quoteIdent(p.schema)}.${p.createPartition ? "create_sub_partition" : "create_sub_parent"}(${args.join(", ")});`;
}

/** The set's partitions that are partitioned in turn, as part_config names them. */
function subParentsSql(p: PartmanInstall, t: TableSpec): string {
  return `SELECT partition_schemaname || '.' || partition_tablename FROM ${quoteIdent(p.schema)}.show_partitions(${quoteLiteral(t.name)})`;
}

/** The encoder and decoder of a uuid or text set as SQL calls them (partman-stack's own
 *  statements): uuidv7's are pg_partman's own, qualified with its schema. */
export function timeCodecFunctions(p: PartmanInstall, t: TableSpec): { encoder: string; decoder: string } | null {
  if (t.kind !== "time" || !t.timeCodec) return null;
  return t.timeCodec === "uuidv7" ? uuid7Codec(quoteIdent(p.schema)) : t.timeCodec;
}

/** pg_partman's own UUIDv7 encoder and decoder, in `schema` as written. */
const uuid7Codec = (schema: string) => ({ encoder: `${schema}.uuid7_time_encoder`, decoder: `${schema}.uuid7_time_decoder` });

/** A codec name as this release stores it: 5.5+ quotes each part itself, so without quotes. */
const storedCodecName = (p: PartmanInstall, name: string) => (p.quotesCodecNames ? name.replace(/"/g, "") : name);

/** Whether an update from `from` to `to` changes how codec names are stored. */
const crossesCodecQuoting = (from: PartmanInstall, to: PartmanInstall) => to.quotesCodecNames && !from.quotesCodecNames;

/** The same names as pg_partman takes and stores them: before 5.5 it interpolates them as given
 *  (so the schema of its own is quoted here); 5.5+ quotes each part itself (%I), so they go
 *  unquoted. Declared names are lower-case identifiers (validate.ts), the same either way. */
function timeCodecNames(p: PartmanInstall, t: TableSpec): { encoder: string; decoder: string } | null {
  if (t.kind !== "time" || !t.timeCodec) return null;
  return t.timeCodec === "uuidv7" ? uuid7Codec(p.quotesCodecNames ? p.schema : quoteIdent(p.schema)) : t.timeCodec;
}

/** A set's time encoder and decoder as part_config holds them against the declared ones (compared
 *  without quotes or case, as pg_partman keeps the names it was given); null when they agree. The
 *  keys already written are in the set's encoding, so a change is a migration, never an update. */
export function timeCodecChange(p: PartmanInstall, t: TableSpec, row: PartConfigRow): { live: string; declared: string; restore: string } | null {
  const text = (c: { encoder: string | null; decoder: string } | null) => (c ? `${c.encoder ?? "none"}/${c.decoder}` : "none");
  const declared = text(timeCodecFunctions(p, t));
  const live = text(row.time_decoder ? { encoder: row.time_encoder && qualifiedFunction(row.time_encoder, t.schema), decoder: qualifiedFunction(row.time_decoder, t.schema) } : null);
  const plain = (s: string) => s.replace(/"/g, "").toLowerCase();
  if (plain(declared) === plain(live)) return null;
  const restore =
    live === "none" ? "remove uuidv7, timeEncoder and timeDecoder"
    : plain(live) === plain(text(uuid7Codec(p.schema))) ? "declare uuidv7: true"
    : `declare timeEncoder: ${row.time_encoder} and timeDecoder: ${row.time_decoder}`;
  return { live, declared, restore };
}

/** A set's encoder and decoder rewritten in part_config as this release must find them: a bare
 *  name (registered before partman-stack qualified them) qualified, since pg_partman and
 *  partman-stack's maintenance run under a search_path of pg_catalog; on 5.5+, a quoted name (given
 *  to an earlier release, then updated by hand or by the Pulumi Extension resource) unquoted, as
 *  5.5 quotes each part itself. null when they are stored right. */
export function storedTimeCodecFix(p: PartmanInstall, t: TableSpec, row: PartConfigRow): { sql: string; summary: string; decoder: string | null } | null {
  const store = (n: string | null) => (n === null ? null : storedCodecName(p, qualifiedFunction(n, t.schema)));
  const [encoder, decoder] = [store(row.time_encoder), store(row.time_decoder)];
  if (encoder === row.time_encoder && decoder === row.time_decoder) return null;
  const bare = [row.time_encoder, row.time_decoder].some((n) => n !== null && !n.includes("."));
  const q = (n: string | null) => (n === null ? "NULL" : quoteLiteral(n));
  return {
    sql: `UPDATE ${quoteIdent(p.schema)}.part_config SET time_encoder = ${q(encoder)}, time_decoder = ${q(decoder)} WHERE parent_table = ${quoteLiteral(t.name)};`,
    summary: bare
      ? `qualify the time encoder and decoder with schema ${t.schema} (a bare name depends on the search_path maintenance runs under)`
      : `store the time encoder and decoder unquoted, as pg_partman ${p.version} quotes each part of the names itself`,
    decoder,
  };
}

/** The time a control value of a time set stands for (SQL): an epoch column's integer in its unit,
 *  a uuid or text key through the set's decoder, a time column as it is. */
export function controlTimeSql(p: PartmanInstall, t: TableSpec & { kind: "time" }, value: string): string {
  if (t.epoch) return `to_timestamp(${value} / ${EPOCH_UNITS[t.epoch]}::numeric)`;
  const codec = timeCodecFunctions(p, t);
  return codec ? `${codec.decoder}(${value}::text)` : value;
}

/** One partition's worth of rows out of the default partition, as `moved` (the function form, so
 *  it runs in the transaction that locked the parent first). 5.3+ inserts the moved rows without
 *  OVERRIDING SYSTEM VALUE unless told: a GENERATED ALWAYS identity would refuse them, and the
 *  rows must keep their ids. */
export function moveDefaultRowsSql(p: PartmanInstall, t: TableSpec): string {
  const keepIds = versionAtLeast(p.version, "5.3.0") ? ", p_override_system_value => true" : "";
  return `SELECT ${quoteIdent(p.schema)}.partition_data_${t.kind}(p_parent_table => ${quoteLiteral(t.name)}, p_batch_count => 1, p_analyze => false${keepIds}) AS moved`;
}

/** Creates the partitions missing between a set's first and last. 4.x's partition_gap_fill takes an
 *  epoch set for an integer-range one, so there the missing partitions' starts are laid out on
 *  partman_stack.partition_bounds' axis and made with create_partition_time, which reads the epoch. */
export function fillGapsSql(p: PartmanInstall, t: TableSpec): string {
  const parent = quoteLiteral(t.name);
  if (p.major >= 5 || t.kind !== "time" || !t.epoch) return `SELECT ${quoteIdent(p.schema)}.partition_gap_fill(${parent})`;
  const step = `${quoteLiteral(t.interval.text)}::interval`;
  const bounds = `${MAINTENANCE_SCHEMA}.partition_bounds(${parent})`;
  return (
    `SELECT ${quoteIdent(p.schema)}.create_partition_time(${parent}, ARRAY(` +
    `SELECT g FROM generate_series((SELECT to_timestamp(min(lower_bound)) FROM ${bounds}), (SELECT to_timestamp(max(upper_bound)) FROM ${bounds}) - ${step}, ${step}) g ` +
    `WHERE NOT EXISTS (SELECT 1 FROM ${bounds} b WHERE g >= to_timestamp(b.lower_bound) AND g < to_timestamp(b.upper_bound))), p_analyze => false)`
  );
}

/** 4.x has no p_default_table: a set declared without a default partition gets the one
 *  create_parent just made dropped in the same transaction. Found in the catalog, never by a
 *  derived name (PostgreSQL truncates a long one into another table's), and dropped only while
 *  empty: a default holding rows fails the step, and the unit with it. The dollar quote's tag has
 *  capitals, which no declared (lower-case) name can contain, so the body cannot end early. */
export function dropFreshDefaultSql(p: PartmanInstall, t: TableSpec): string | null {
  if (p.major >= 5 || t.defaultPartition) return null;
  const parent = quoteLiteral(`${quoteIdent(t.schema)}.${quoteIdent(t.table)}`);
  return [
    `DO $DropDefault$`,
    `DECLARE v_default regclass; v_rows boolean;`,
    `BEGIN`,
    `  SELECT c.oid::regclass INTO v_default FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid`,
    `   WHERE i.inhparent = ${parent}::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';`,
    `  IF v_default IS NULL THEN RETURN; END IF;`,
    `  EXECUTE format('SELECT EXISTS (SELECT FROM %s)', v_default) INTO v_rows;`,
    `  IF v_rows THEN RAISE EXCEPTION 'default partition % of % holds rows: not dropped', v_default, ${parent}::regclass; END IF;`,
    `  EXECUTE format('DROP TABLE %s', v_default);`,
    `END`,
    `$DropDefault$;`,
  ].join("\n");
}

export function createDefaultPartitionSql(t: TableSpec): string {
  return `CREATE TABLE ${quoteIdent(t.schema)}.${quoteIdent(defaultPartitionName(t.table))} PARTITION OF ${quoteIdent(t.schema)}.${quoteIdent(t.table)} DEFAULT;`;
}

/** `neutral`: also turns pg_partman's own retention off (retention NULL; were it set again by hand,
 *  keep_table makes pg_partman detach rather than drop). On sub-partitions: part_config_sub (what
 *  pg_partman gives partitions it creates later) and the existing sub-parents' part_config alike. */
export function updateConfigSql(p: PartmanInstall, t: TableSpec, changed: Partial<ManagedConfig>, neutral: boolean, level: ConfigLevel = "set"): string {
  const sets = (prefix: string) =>
    [
      ...Object.entries(changed).map(([col, v]) => `${prefix}${col} = ${sqlValue(v)}`),
      ...(neutral ? [`${prefix}retention = NULL`, `${prefix}retention_keep_table = true`, `${prefix}retention_schema = NULL`] : []),
    ].join(", ");
  const config = `${quoteIdent(p.schema)}.part_config`;
  if (level === "set") return `UPDATE ${config} SET ${sets("")} WHERE parent_table = ${quoteLiteral(t.name)};`;
  return (
    `UPDATE ${config}_sub SET ${sets("sub_")} WHERE sub_parent = ${quoteLiteral(t.name)};\n` +
    `UPDATE ${config} SET ${sets("")} WHERE parent_table IN (${subParentsSql(p, t)});`
  );
}

/** The declared retention into partman_stack.retention, or the sub-partitions' into
 *  partman_stack.sub_retention (or out of it when none is declared). */
export function retentionSql(t: TableSpec, c: ManagedConfig, level: ConfigLevel = "set"): string {
  const name = quoteLiteral(t.name);
  const table = `${MAINTENANCE_SCHEMA}.${level === "sub" ? "sub_retention" : "retention"}`;
  if (c.retention === null) return `DELETE FROM ${table} WHERE parent_table = ${name};`;
  return (
    `INSERT INTO ${table} (parent_table, retention, keep_table, retention_schema) ` +
    `VALUES (${name}, ${sqlValue(c.retention)}, ${sqlValue(c.retention_keep_table)}, ${sqlValue(c.retention_schema)}) ` +
    `ON CONFLICT (parent_table) DO UPDATE SET retention = EXCLUDED.retention, keep_table = EXCLUDED.keep_table, retention_schema = EXCLUDED.retention_schema;`
  );
}

/** partman-stack's own objects in the target database: its retention table, maintenance runs,
 *  the lock helper and the maintenance procedures, in the order they are installed. */
export const MAINTENANCE_SCHEMA = "partman_stack";
export const MAINTENANCE_SQL_DIR = "sql/maintenance";
const MAINTENANCE_SQL_FILES = ["tables.sql", "lock_in_order.sql", "fences.sql", "partition_bounds.sql", "premake.sql", "expire.sql", "run_maintenance.sql"];
// Read when the module loads, so a closure-serialized provider carries the text.
const MAINTENANCE_SQL = MAINTENANCE_SQL_FILES.map((f) => fs.readFileSync(path.join(PACKAGE_ROOT, MAINTENANCE_SQL_DIR, f), "utf8").trim());

/** The SQL that installs (or updates) those objects for this pg_partman, ending with the comment
 *  that marks the installed version: introspect reads the mark back, and plan reinstalls when it
 *  differs. The schema is created as the acting role's (two first installs at once: the second
 *  waits for the first, then finds it); concurrent installs (the Pulumi engine creates tables side
 *  by side) take turns on the schema's own lock, which COMMENT takes and only its owner can; and the
 *  objects go in only while the schema is the acting role's alone, checked under that lock. PUBLIC
 *  gets no EXECUTE on what is installed. */
export function maintenanceObjects(p: PartmanInstall): { mark: string; sql: string } {
  const body = maintenanceDialect(p, MAINTENANCE_SQL.join("\n\n"));
  const mark = `partman-stack ${MAINTENANCE_SQL_DIR} sha256:${crypto.createHash("sha256").update(body).digest("hex").slice(0, 16)}`;
  const schema = MAINTENANCE_SCHEMA;
  return {
    mark,
    sql: [
      `DO $$ BEGIN CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION CURRENT_USER; EXCEPTION WHEN unique_violation THEN NULL; END $$;`,
      `COMMENT ON SCHEMA ${schema} IS 'partman-stack: being installed';`,
      assertTrustedSchemaSql(MAINTENANCE_SCHEMA),
      body,
      `REVOKE ALL ON ALL ROUTINES IN SCHEMA ${schema} FROM PUBLIC;`,
      `COMMENT ON SCHEMA ${schema} IS ${quoteLiteral(mark)};`,
    ].join("\n\n"),
  };
}

/** The maintenance SQL for this pg_partman: @extschema@ is its schema, and each @partman_…@ flag
 *  (true or false) says how this version behaves, for the SQL to branch on:
 *  - catches_set_errors: 5.5.0's run_maintenance catches a set's error (CVE-2026-61822), sets its
 *    maintenance_last_run NULL and only warns; premake raises it again.
 *  - has_detach_before_drop: 5.5.0's part_config.detach_before_drop, which expire sets for a set
 *    referenced by a foreign key. */
export function maintenanceDialect(p: PartmanInstall, sql: string): string {
  const v55 = String(versionAtLeast(p.version, "5.5.0"));
  const flags: Record<string, string> = { catches_set_errors: v55, has_detach_before_drop: v55 };
  return sql.replace(/@extschema@/g, quoteIdent(p.schema)).replace(/@partman_([a-z_]+)@/g, (m, flag: string) => {
    if (!(flag in flags)) throw new Error(`${MAINTENANCE_SQL_DIR}: unknown placeholder ${m}`);
    return flags[flag];
  });
}

/** The install of partman-stack's objects when `installed` (introspect's maintenanceObjects) is
 *  not this version's mark, for what runs outside a plan (archive, verify --fix, migrate). */
export function objectsToInstall(p: PartmanInstall, installed: string | null): string | null {
  const objects = maintenanceObjects(p);
  return installed === objects.mark ? null : objects.sql;
}

function maintenanceArgs(m: MaintenanceSpec): string {
  return `p_analyze => ${m.analyze}, p_lock_timeout => ${quoteLiteral(m.lockTimeout.text)}, p_max_lock_wait => ${quoteLiteral(m.maxLockWait.text)}`;
}

/** What the pg_cron job runs: every set's maintenance through partman_stack.run_maintenance. */
export function maintenanceCommand(m: MaintenanceSpec): string {
  return `CALL ${MAINTENANCE_SCHEMA}.run_maintenance(${maintenanceArgs(m)})`;
}

/** Maintenance of one set, as the job runs it: a procedure, so it runs outside apply's transaction. */
export function runTableMaintenanceSql(t: TableSpec, m: MaintenanceSpec): string {
  return `CALL ${MAINTENANCE_SCHEMA}.run_maintenance(p_parent_table => ${quoteLiteral(`${t.schema}.${t.table}`)}, ${maintenanceArgs(m)});`;
}

/** pg_partman's config tables, as the lock helper takes them. */
export function partmanConfigTables(p: PartmanInstall): string[] {
  return [`${quoteIdent(p.schema)}.part_config`, `${quoteIdent(p.schema)}.part_config_sub`];
}

/** The in-place update between two releases of one major (pg_partman ships the update scripts).
 *  Crossing 5.5, the codec names given to earlier releases quoted (timeCodecNames) are stored
 *  unquoted, as 5.5 quotes each part itself: left quoted, it would quote the quotes. */
export function updateExtensionSql(from: PartmanInstall, to: PartmanInstall): string[] {
  const sql = [`ALTER EXTENSION pg_partman UPDATE TO ${quoteLiteral(to.version)};`];
  if (crossesCodecQuoting(from, to)) {
    const [config, sub] = partmanConfigTables(from);
    const unquote = (col: string) => `${col} = replace(${col}, '"', '')`;
    sql.push(
      `UPDATE ${config} SET ${unquote("time_encoder")}, ${unquote("time_decoder")} WHERE strpos(time_encoder, '"') > 0 OR strpos(time_decoder, '"') > 0;`,
      `UPDATE ${sub} SET ${unquote("sub_time_encoder")}, ${unquote("sub_time_decoder")} WHERE strpos(sub_time_encoder, '"') > 0 OR strpos(sub_time_decoder, '"') > 0;`,
    );
  }
  return sql;
}

/** A set's state as updateExtensionSql leaves it, for planning its steps after the update. */
export function tableAfterUpdate(from: PartmanInstall, to: PartmanInstall, ts: TableState): TableState {
  if (!crossesCodecQuoting(from, to)) return ts;
  const unquote = (n: string | null) => n && storedCodecName(to, n);
  const config = (row: PartConfigRow | null) => row && { ...row, time_encoder: unquote(row.time_encoder), time_decoder: unquote(row.time_decoder) };
  return { ...ts, partConfig: config(ts.partConfig), subConfig: config(ts.subConfig), subParents: ts.subParents.map((sub) => tableAfterUpdate(from, to, sub)) };
}

/** Two first applies at once: the second waits for the first's commit, then finds what it made. */
export function createExtensionSql(schema: string, version: string | null): string[] {
  const once = (statement: string) => `DO $$ BEGIN ${statement}; EXCEPTION WHEN unique_violation THEN NULL; END $$;`;
  return [
    once(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`),
    once(`CREATE EXTENSION IF NOT EXISTS pg_partman WITH SCHEMA ${quoteIdent(schema)}${version ? ` VERSION ${quoteLiteral(version)}` : ""}`),
  ];
}

function sqlValue(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  return quoteLiteral(String(v));
}
