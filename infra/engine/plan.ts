// Compares a stack's declaration with a database's introspected state and returns the ordered
// SQL steps that bring the database to the declaration. Pure: no I/O, so preview, the CLI's
// plan and the tests all see the same steps.

import type { MaintenanceSpec, StackSpec, TableSpec } from "../config/types";
import { STAGING } from "../config/derived-names";
import { sameSpan } from "../config/span";
import { unsupportedShape } from "../config/shape-support";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import type { CronJob, DatabaseState, TableState } from "./introspect";
import { requireLocksSql } from "./lock-in-order";
import { SAFE_SEARCH_PATH, userSqlSearchPath } from "../db/session";
import { cronFilesMissing, cronNotLoaded, partmanMissing, partmanUnavailable } from "./server-problems";
import { dataLoss, describeLoss, mergeLosses, positionOf, type DataLoss } from "./data-loss";
import { fmt } from "./value-text";
import { upgradeAdvice } from "../partman/advisories";
import { defaultPartitionName } from "../partman/child-names";
import { storedTimeCodecFix, timeCodecChange } from "../partman/codecs";
import {
  configColumnName,
  desiredConfig,
  liveConfig,
  PARTMAN_COLUMNS,
  partmanConfigTables,
  RETENTION_COLUMNS,
  retentionSql,
  updateConfigSql,
  type ConfigLevel,
  type ManagedConfig,
} from "../partman/config";
import { createDefaultPartitionSql, createParentSql, createSubParentSql, dropFreshDefaultSql, registeredConfig } from "../partman/create";
import { createExtensionSql, PARTMAN_SCHEMA, tableAfterUpdate, updateExtensionSql } from "../partman/extension";
import { MAINTENANCE_SCHEMA, MAINTENANCE_SQL_DIR, maintenanceCommand, maintenanceObjects, runTableMaintenanceSql } from "../partman/maintenance-objects";
import { checkDefaultCall } from "../partman/partitions";
import { partmanInstall, versionAtLeast, type PartmanInstall } from "../partman/version";

export type StepAction =
  | "create-extension"
  | "update-extension"
  | "create-cron-extension"
  | "create-schema"
  | "create-table"
  | "create-parent"
  | "create-sub-parent"
  | "drop-default"
  | "create-default"
  | "update-config"
  | "set-retention"
  | "run-maintenance"
  | "install-objects"
  | "schedule-job"
  | "alter-job"
  | "reassign-job"
  | "unschedule-job";

export interface PropertyChange {
  property: string;
  from: string | number | boolean | null;
  to: string | number | boolean | null;
}

export interface Step {
  /** Consecutive steps of one unit run in one transaction. */
  unit: string;
  /** The database the SQL runs in: the target, or the one pg_cron lives in. */
  database: string;
  action: StepAction;
  table?: string;
  summary: string;
  changes?: PropertyChange[];
  /** Partitions this change makes maintenance drop (acknowledged with allowDataLoss). */
  dataLoss?: DataLoss;
  sql: string[];
  /** A procedure that commits as it goes: run after the unit's transaction, outside any. */
  ownTransactions?: boolean;
}

/** Something that blocks a unit: apply leaves that unit alone (and applies the others). */
export interface Problem {
  /** The unit it blocks. */
  unit: string;
  table?: string;
  message: string;
  /** Set when the problem is an unacknowledged change that makes maintenance drop partitions. */
  dataLoss?: DataLoss;
  /** The declaration key it is about, when a Pulumi resource's check should name it: subpartition
   *  (refused as a migration, or its retention dropping data). */
  property?: string;
}

export interface Plan {
  stack: string;
  database: string;
  partmanVersion: string | null;
  steps: Step[];
  problems: Problem[];
  warnings: string[];
}

export const EXTENSIONS_UNIT = "extensions";
export const OBJECTS_UNIT = "partman-stack objects";
export const JOB_UNIT = "maintenance job";
export const tableUnit = (name: string) => `table ${name}`;

/** What a plan covers: everything (the CLI), or one table or the job alone (a Pulumi resource each,
 *  with the extensions created by their own resources). */
export type PlanPart = "extension" | "tables" | "job";
export const ALL_PARTS: readonly PlanPart[] = ["extension", "tables", "job"];

export function plan(spec: StackSpec, state: DatabaseState, parts: readonly PlanPart[] = ALL_PARTS): Plan {
  const steps: Step[] = [];
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const out = { steps, problems, warnings };

  let partman = state.partman;
  const objects = parts.includes("tables") || parts.includes("job");
  // With pg_partman installed, partman-stack's objects for it come first: an update of the
  // extension takes pg_partman's config tables through their lock helper.
  if (partman && objects) planObjects(state.maintenanceObjects, state, partman, out);
  if (parts.includes("extension")) partman = planExtension(spec, state, out);
  else if (!partman) problems.push({ unit: EXTENSIONS_UNIT, message: partmanMissing(state) });
  // Then those for the release created or updated to (the procedures differ between releases).
  if (partman && objects && partman !== state.partman) {
    planObjects(state.partman ? maintenanceObjects(state.partman).mark : state.maintenanceObjects, state, partman, out);
  }
  if (parts.includes("tables")) {
    const schemas = new Set(state.schemas);
    // After an update of pg_partman, each set as the update leaves it.
    const updated = (ts: TableState): TableState =>
      partman === state.partman || !state.partman || !partman ? ts : tableAfterUpdate(state.partman, partman, ts);
    for (const t of spec.tables) {
      const tableSteps = planTable(t, spec.maintenance, updated(state.tables[t.name]), partman, schemas, state, out);
      if (tableSteps) steps.push(...tableSteps);
    }
  }
  // Planned on its own, the job is wanted whenever it is enabled; with the tables, only if there are any.
  if (parts.includes("job")) planJob(spec, state, partman, parts.includes("tables") ? spec.tables.length > 0 : true, out);
  if (parts.length === ALL_PARTS.length) {
    for (const name of state.undeclared) {
      const migrating = name.startsWith(`${STAGING}.`) ? name.slice(STAGING.length + 1) : null;
      warnings.push(
        migrating
          ? `table ${name} is the partitioned copy a migration is building (partman-stack migrate run ${migrating}): it takes the live table's place at the swap; ` +
              `partman-stack migrate status ${migrating} shows how far it is`
          : `table ${name} is registered with pg_partman but not declared in stack ${spec.stack}: partman-stack no longer manages it ` +
              `and leaves it, its partitions and its part_config as they are (the maintenance job still runs for it)`,
      );
    }
  }

  return {
    stack: spec.stack,
    database: state.database,
    partmanVersion: partman?.version ?? null,
    steps,
    problems,
    warnings,
  };
}

interface Out {
  steps: Step[];
  problems: Problem[];
  warnings: string[];
}

/** Returns the pg_partman the tables will be managed with (installed, or about to be). */
function planExtension(spec: StackSpec, state: DatabaseState, out: Out): PartmanInstall | null {
  const wanted = spec.database.partmanVersion;
  if (state.partman) return wanted && wanted !== state.partman.version ? planExtensionUpdate(spec, state, state.partman, wanted, out) : state.partman;
  if (spec.tables.length === 0) return null;
  const version = wanted ?? state.partmanDefault;
  if (!version || !state.partmanAvailable.includes(version)) {
    out.problems.push({ unit: EXTENSIONS_UNIT, message: partmanUnavailable(state, wanted) });
    return null;
  }
  out.steps.push({
    unit: EXTENSIONS_UNIT,
    database: state.database,
    action: "create-extension",
    summary: `create extension pg_partman ${version} in schema ${PARTMAN_SCHEMA}`,
    sql: createExtensionSql(PARTMAN_SCHEMA, wanted),
  });
  return partmanInstall(version, PARTMAN_SCHEMA);
}

/** The installed pg_partman moved to the declared release in place (ALTER EXTENSION … UPDATE),
 *  within a major and forwards only; returns the release the tables are then planned for. */
function planExtensionUpdate(spec: StackSpec, state: DatabaseState, installed: PartmanInstall, wanted: string, out: Out): PartmanInstall {
  const refuse = (message: string) => {
    out.problems.push({ unit: EXTENSIONS_UNIT, message: `pg_partman ${installed.version} is installed but stack "${spec.stack}" declares partmanVersion ${wanted}: ${message}` });
    return installed;
  };
  if (versionAtLeast(installed.version, wanted)) {
    return refuse(`pg_partman has no downgrade path, so partman-stack does not go back; declare partmanVersion "${installed.version}"`);
  }
  const next = partmanInstall(wanted, installed.schema);
  if (installed.major !== next.major) {
    return refuse(`${upgradeAdvice(spec, state)}. Follow that guide, or declare partmanVersion "${installed.version}" until then`);
  }
  if (!state.partmanAvailable.includes(wanted)) return refuse(partmanUnavailable(state, wanted));
  out.steps.push({
    unit: EXTENSIONS_UNIT,
    database: state.database,
    action: "update-extension",
    summary: `update extension pg_partman ${installed.version} → ${wanted} in place (its config tables locked first; the sets, their partitions and rows stay)`,
    changes: [{ property: "partmanVersion", from: installed.version, to: wanted }],
    sql: [requireLocksSql(partmanConfigTables(installed), spec.maintenance), ...updateExtensionSql(installed, next)],
  });
  return next;
}

/** partman-stack's retention table, maintenance log and procedures (sql/maintenance), which the
 *  tables' retention and the job need: installed, or updated when another version installed them. */
function planObjects(installed: string | null, state: DatabaseState, partman: PartmanInstall, out: Out): void {
  const objects = maintenanceObjects(partman);
  if (installed === objects.mark) return;
  out.steps.push({
    unit: OBJECTS_UNIT,
    database: state.database,
    action: "install-objects",
    summary: `${installed ? "update" : "install"} schema ${MAINTENANCE_SCHEMA} from ${MAINTENANCE_SQL_DIR}/ (retention, maintenance runs, the lock-first maintenance procedures)`,
    sql: [objects.sql],
  });
}

function planTable(
  t: TableSpec,
  m: MaintenanceSpec,
  ts: TableState,
  partman: PartmanInstall | null,
  schemas: Set<string>,
  state: Pick<DatabaseState, "database" | "now" | "user" | "schemaOwners">,
  out: Out,
): Step[] | null {
  const { database } = state;
  const now = new Date(state.now);
  const unit = tableUnit(t.name);
  const unsupported = partman && unsupportedShape(partman.version, t, "installed");
  const problems = [...tableProblems(t, ts, partman), ...retentionSchemaProblems(t, state), ...(unsupported ? [unsupported] : [])];
  const subProblems = subpartitionProblems(t, ts);
  if (problems.length > 0 || subProblems.length > 0) {
    out.problems.push(...problems.map((message) => ({ unit, table: t.name, message })));
    out.problems.push(...subProblems.map((message) => ({ unit, table: t.name, message, property: "subpartition" })));
    return null;
  }
  if (!partman) return null;

  const steps: Step[] = [];
  const step = (action: StepAction, summary: string, sql: string[], changes?: PropertyChange[], loss?: DataLoss) =>
    steps.push({ unit, database, action, table: t.name, summary, sql, ...(changes ? { changes } : {}), ...(loss ? { dataLoss: loss } : {}) });

  for (const schema of [t.schema, t.retentionSchema]) {
    if (schema && !schemas.has(schema)) {
      step("create-schema", `create schema ${schema}`, [`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};`]);
      schemas.add(schema);
    }
  }
  if (ts.relkind === null) {
    step("create-table", `create table ${t.name} from ${t.ddl}`, [
      `SET LOCAL search_path = ${userSqlSearchPath(t.schema)};`,
      t.ddlSql!.trim(),
      `SET LOCAL search_path = ${SAFE_SEARCH_PATH};`,
    ]);
  }
  // Partitions attached to a table that already exists (and may be busy): its lock first, bounded.
  const liveLock = ts.relkind === null ? [] : [requireLocksSql([`${quoteIdent(t.schema)}.${quoteIdent(t.table)}`], m)];

  const desired = desiredConfig(t);
  let current: ManagedConfig;
  if (ts.partConfig) {
    current = liveConfig(ts.partConfig, ts.retention);
    const codec = storedTimeCodecFix(partman, t, ts.partConfig);
    if (codec) step("update-config", codec.summary, [codec.sql], [codec.change]);
    if (t.defaultPartition && !ts.hasDefault) {
      step("create-default", `create default partition ${t.schema}.${defaultPartitionName(t.table)}`, [...liveLock, createDefaultPartitionSql(t)]);
    } else if (!t.defaultPartition && ts.hasDefault) {
      out.warnings.push(
        `table ${t.name}: declared without a default partition but has one; partman-stack does not drop it ` +
          `(check it is empty with ${checkDefaultCall(partman)}, then DROP it by hand)`,
      );
    }
    // Only while the set is empty (subpartitionProblems): create_sub_parent recreates its partitions.
    if (t.subpartition && !ts.subConfig) {
      const partitions = ts.partitions.map((x) => `${quoteIdent(t.schema)}.${quoteIdent(x.name)}`);
      step("create-sub-parent", subParentSummary(t), [requireLocksSql([`${quoteIdent(t.schema)}.${quoteIdent(t.table)}`, ...partitions], m), createSubParentSql(partman, t)]);
    }
  } else {
    step(
      "create-parent",
      `register ${t.name} with pg_partman ${partman.version}: ${t.kind === "id" && t.type === "list" ? "one partition per value" : `${t.interval.text} partitions`} on ${t.control}, premake ${t.premake}` +
        (t.startPartition ? `, from ${t.startPartition}` : ""),
      [...liveLock, createParentSql(partman, t)],
    );
    const dropDefault = dropFreshDefaultSql(partman, t);
    if (dropDefault) step("drop-default", `drop the default partition pg_partman ${partman.version} always creates (the parent's DEFAULT partition in the catalog, while empty)`, [dropDefault]);
    if (t.subpartition) step("create-sub-parent", subParentSummary(t), [createSubParentSql(partman, t)]);
    current = registeredConfig(desired);
  }

  const at = { t, partman, step, out, unit };
  // Only an existing set has data a change could drop; a new one's history partitions are empty.
  const position = positionOf(ts, now);
  if (!planConfig(at, "set", current, desired, ts.partConfig?.retention ?? null, ts.retention !== null, (c, d) => (ts.partConfig ? dataLoss(c, d, ts.partitions, position) : null))) {
    return null;
  }
  if (t.subpartition) {
    const desiredSub = desiredConfig(t, "sub");
    // part_config_sub, and each sub-parent's part_config: the first that differs from the declaration.
    const rows = ts.subConfig ? [ts.subConfig, ...ts.subParents.flatMap((c) => c.partConfig ?? [])] : [];
    const live = rows.map((row) => liveConfig(row, ts.subRetention));
    const currentSub = live.find((c) => configChanges(c, desiredSub).length > 0) ?? live[0] ?? registeredConfig(desiredSub);
    const ownRetention = rows.find((r) => r.retention !== null)?.retention ?? null;
    const loss = (c: ManagedConfig, d: ManagedConfig) => mergeLosses(ts.subParents.map((child) => dataLoss(c, d, child.partitions, positionOf(child, now))));
    if (!planConfig(at, "sub", currentSub, desiredSub, ownRetention, ts.subRetention !== null, loss)) return null;
  }
  if (steps.some((s) => ["create-parent", "create-sub-parent", "update-config", "set-retention"].includes(s.action))) {
    steps.push({
      unit, database, action: "run-maintenance", table: t.name, ownTransactions: true,
      summary: `run maintenance for ${t.name}${t.subpartition ? " and its sub-parents" : ""} so premake and retention take effect now (after the changes above commit; parent locked first, within maintenance.lockTimeout per attempt and maxLockWait in all)`,
      sql: [runTableMaintenanceSql(t, m)],
    });
  }
  return steps;
}

function subParentSummary(t: TableSpec): string {
  const s = t.subpartition!;
  return `partition each partition of ${t.name} in turn: ${s.interval.text} sub-partitions on ${s.control}, premake ${s.premake}`;
}

interface ConfigTarget {
  t: TableSpec;
  partman: PartmanInstall;
  step: (action: StepAction, summary: string, sql: string[], changes?: PropertyChange[], loss?: DataLoss) => void;
  out: Out;
  unit: string;
}

/** The steps that bring part_config (or part_config_sub and the sub-parents' rows) and
 *  partman-stack's retention to the declaration; false when a data-loss change is refused.
 *  `ownRetention`: pg_partman's retention in force, which partman-stack turns off (pg_partman would
 *  DROP child first, parent second, without a lock_timeout); `keeping`: partman-stack keeps a
 *  retention row already. */
function planConfig(
  { t, partman, step, out, unit }: ConfigTarget,
  level: ConfigLevel,
  current: ManagedConfig,
  desired: ManagedConfig,
  ownRetention: string | null,
  keeping: boolean,
  lossOf: (current: ManagedConfig, desired: ManagedConfig) => DataLoss | null,
): boolean {
  const named = (property: string) => (level === "sub" ? `subpartition.${property}` : property);
  const changes = configChanges(current, desired);
  const found = changes.length > 0 ? lossOf(current, desired) : null;
  const loss = found && level === "sub" ? { ...found, because: found.because.map((b) => `subpartition.${b}`) } : found;
  if (loss && !t.allowDataLoss) {
    out.problems.push({
      unit,
      table: t.name,
      dataLoss: loss,
      ...(level === "sub" ? { property: "subpartition" } : {}),
      message:
        `${describeLoss(t.name, loss)}; nothing is changed. If that is intended, set allowDataLoss: true on this table's entry in the stack file ` +
        `(and remove it after the apply); to keep the data instead, set ${level === "sub" ? "subpartition.retentionKeepTable (maintenance then detaches expired sub-partitions)" : "retentionSchema (pg_partman then moves expired partitions there, and partman-stack archive dumps them)"}`,
    });
    return false;
  }
  if (loss) out.warnings.push(`${describeLoss(t.name, loss)}; acknowledged with allowDataLoss: this apply's maintenance run drops them`);
  const summary = (cs: PropertyChange[]) => cs.map((c) => `${c.property} ${fmt(c.from)} → ${fmt(c.to)}`).join(", ");
  const rename = (cs: PropertyChange[]) => cs.map((c) => ({ ...c, property: named(c.property) }));
  const partmanChanges = changes.filter((c) => (PARTMAN_COLUMNS as readonly string[]).includes(c.property));
  const neutralize: PropertyChange[] = ownRetention !== null ? [{ property: configColumnName("retention", level), from: ownRetention, to: null }] : [];
  if (partmanChanges.length > 0 || neutralize.length > 0) {
    const set = Object.fromEntries(partmanChanges.map((c) => [c.property, c.to])) as Partial<ManagedConfig>;
    const shown = [...rename(partmanChanges), ...neutralize];
    step("update-config", `set ${summary(shown)}`, [updateConfigSql(partman, t, set, neutralize.length > 0, level)], shown);
  }
  const retentionChanges = rename(changes.filter((c) => (RETENTION_COLUMNS as readonly string[]).includes(c.property)));
  const moving = neutralize.length > 0 && desired.retention !== null && !keeping;
  const where = `${MAINTENANCE_SCHEMA}.${level === "sub" ? "sub_retention" : "retention"}`;
  if (retentionChanges.length > 0 || moving) {
    step(
      "set-retention",
      retentionChanges.length > 0
        ? `set ${summary(retentionChanges)} (in ${where}: partman-stack expires partitions itself)`
        : `move ${named("retention")} ${fmt(desired.retention)} from pg_partman's part_config to ${where} (partman-stack expires partitions itself)`,
      [retentionSql(t, desired, level)],
      retentionChanges,
      loss ?? undefined,
    );
  }
  return true;
}

function tableProblems(t: TableSpec, ts: TableState, partman: PartmanInstall | null): string[] {
  if (ts.relkind === null) {
    return t.ddl === null
      ? [`table ${t.name} does not exist and declares no ddl file to create it from: add ddl: sql/tables/${t.table}.sql with its CREATE TABLE … PARTITION BY RANGE (${t.control})`]
      : [];
  }
  if (ts.relkind === "r") {
    return [
      `table ${t.name} exists but is not partitioned; it needs migrating onto partitions ` +
        `with partman-stack migrate run ${t.name} (partman-stack does not rewrite a live table in place${t.ddl ? `, and will not re-run ${t.ddl} over it` : ""})`,
    ];
  }
  if (ts.relkind !== "p") return [`${t.name} exists but is not a table (relkind ${ts.relkind})`];
  const problems: string[] = [];
  const list = t.kind === "id" && t.type === "list";
  if (ts.keyColumns.length !== 1 || ts.keyColumns[0] !== t.control) {
    problems.push(
      `table ${t.name} is partitioned by ${strategyName(ts.strategy)} (${ts.keyColumns.join(", ")}) but is declared as ${list ? "LIST" : "RANGE"} (${t.control}); ` +
        `changing a partition set's control column needs a migration to a new table`,
    );
  } else if (ts.strategy !== (list ? "l" : "r")) {
    problems.push(
      `table ${t.name} is partitioned by ${strategyName(ts.strategy)} (${t.control}) but declared type: ${list ? "list" : "range"}; ` +
        `pg_partman cannot change an existing set's type: it needs a migration to a new table` +
        (ts.strategy === "l" || ts.strategy === "r" ? ` (or set type back to ${ts.strategy === "l" ? "list" : "range"})` : ""),
    );
  }
  const row = ts.partConfig;
  if (row) {
    if (row.control !== t.control) {
      problems.push(`table ${t.name}: pg_partman's control column is ${row.control}, declared ${t.control}; changing it needs a migration to a new table`);
    }
    const epoch = t.kind === "time" ? t.epoch ?? "none" : "none";
    if (row.epoch !== epoch) {
      problems.push(`table ${t.name}: pg_partman's epoch is ${row.epoch}, declared ${epoch}; changing how a set reads its control column needs a migration to a new table`);
    }
    const codec = partman && timeCodecChange(partman, t, row);
    if (codec) {
      problems.push(
        `table ${t.name}: pg_partman's time encoder/decoder is ${codec.live}, declared ${codec.declared}; the keys already written and the partitions' bounds are in the set's encoding, ` +
          `so changing how a set reads its control column needs a migration to a new table (or ${codec.restore})`,
      );
    }
    if (!sameSpan(row.partition_interval, t.interval.text)) {
      problems.push(
        `table ${t.name}: partition interval is ${row.partition_interval}, declared ${t.interval.text}; ` +
          `pg_partman cannot change an existing set's interval: it needs a migration to a new partition set (or set interval back to "${row.partition_interval}")`,
      );
    }
  }
  return problems;
}

/** Partitions moved to a retention schema keep their owner, but its owner could drop them there
 *  (pg_partman 5.5.0 refuses such a schema too: CVE-2026-61821), and another role that may create
 *  in it could plant tables named as the partitions will be. One that does not exist yet is created
 *  by the acting role, which owns the partitions. */
function retentionSchemaProblems(t: TableSpec, state: Pick<DatabaseState, "user" | "schemaOwners">): string[] {
  const schema = t.retentionSchema ? state.schemaOwners[t.retentionSchema] : undefined;
  if (!schema) return [];
  const q = quoteIdent(t.retentionSchema!);
  if (schema.owner !== state.user) {
    return [
      `table ${t.name}: retentionSchema ${t.retentionSchema} is owned by ${schema.owner}, not by ${state.user}, which owns the partitions maintenance would move there, ` +
        `and a schema's owner can drop what is in it; nothing is changed for this table. ALTER SCHEMA ${q} OWNER TO ${quoteIdent(state.user)}, or declare another retentionSchema`,
    ];
  }
  if (schema.creators.length === 0) return [];
  return [
    `table ${t.name}: ${schema.creators.join(", ")} may create objects in retentionSchema ${t.retentionSchema}, where maintenance moves partitions and archive finds them; ` +
      `nothing is changed for this table. ${schema.creators.map((r) => `REVOKE CREATE ON SCHEMA ${q} FROM ${r === "PUBLIC" ? r : quoteIdent(r)}`).join("; ")}`,
  ];
}

/** Sub-partitions are made by create_sub_parent, which drops and recreates the set's partitions:
 *  adding them to a set that holds rows (or removing or reshaping them) is a migration. */
function subpartitionProblems(t: TableSpec, ts: TableState): string[] {
  const s = t.subpartition;
  const row = ts.subConfig;
  const migration = `it needs a migration to a new partition set (a new table declared with the subpartition you want, the rows copied into it), not an in-place change`;
  if (s && !row) {
    const rows = ts.partitions.reduce((n, x) => n + (x.rows ?? 1), 0);
    return rows > 0
      ? [`table ${t.name}: adding subpartition to a set that holds rows (~${rows}) is refused: pg_partman's create_sub_parent drops and recreates the set's partitions, so ${migration}; or remove subpartition from the entry`]
      : [];
  }
  if (!s && row) {
    return [`table ${t.name}: its partitions are sub-partitioned on ${row.control} (${row.partition_interval}) but the entry declares no subpartition; removing sub-partitions recreates every partition: ${migration}, or declare subpartition: { control: ${row.control}, interval: "${row.partition_interval}" }`];
  }
  if (!s || !row) return [];
  const problems: string[] = [];
  if (row.control !== s.control) problems.push(`table ${t.name}: subpartition.control is ${row.control} in pg_partman, declared ${s.control}; changing it recreates every partition: ${migration}`);
  const epoch = s.kind === "time" ? s.epoch ?? "none" : "none";
  if (row.epoch !== epoch) problems.push(`table ${t.name}: subpartition.epoch is ${row.epoch} in pg_partman, declared ${epoch}; ${migration}`);
  if (!sameSpan(row.partition_interval, s.interval.text)) {
    problems.push(`table ${t.name}: subpartition.interval is ${row.partition_interval}, declared ${s.interval.text}; pg_partman cannot change it in place: ${migration} (or set subpartition.interval back to "${row.partition_interval}")`);
  }
  return problems;
}

function configChanges(current: ManagedConfig, desired: ManagedConfig): PropertyChange[] {
  const changes: PropertyChange[] = [];
  for (const key of Object.keys(desired) as (keyof ManagedConfig)[]) {
    const from = current[key];
    const to = desired[key];
    const same =
      key === "retention"
        ? sameSpan(from as string | null, to as string | null)
        : from === to;
    if (!same) changes.push({ property: key, from, to });
  }
  return changes;
}

function planJob(spec: StackSpec, state: DatabaseState, partman: PartmanInstall | null, haveTables: boolean, out: Out): void {
  const m = spec.maintenance;
  const cron = state.cron;
  const wanted = m.enabled && haveTables;
  const unit = JOB_UNIT;
  const problem = (message: string) => out.problems.push({ unit, message });
  if (!cron.preloaded || !cron.database) {
    if (wanted) problem(cronNotLoaded(state));
    return;
  }
  const at = cron.database;
  const step = (s: Omit<Step, "unit">) => out.steps.push({ unit, ...s });
  if (!cron.version) {
    if (!wanted) return;
    if (!cron.availableVersion) {
      problem(cronFilesMissing());
      return;
    }
    step({ database: at, action: "create-cron-extension", summary: `create extension pg_cron in database ${at}`, sql: ["CREATE EXTENSION IF NOT EXISTS pg_cron;"] });
  }
  const job = cron.job;
  if (cron.clashes.length > 0) {
    problem(
      `pg_cron job name ${m.jobName} is also used by ${cron.clashes.map((j) => `jobid ${j.jobid} (user ${j.username}, database ${j.database})`).join(", ")}: ` +
        `partman-stack keeps one job per stack and pg_cron one per name and user, so give this stack its own maintenance.jobName ` +
        `(or unschedule the stray job with SELECT cron.unschedule(<jobid>))`,
    );
    return;
  }
  if (!wanted) {
    if (job) {
      step({
        database: at, action: "unschedule-job",
        summary: `unschedule pg_cron job ${job.jobname} (${m.enabled ? "no tables are declared" : "maintenance.enabled is false"})`,
        sql: asJobOwner(job, state, [`SELECT cron.unschedule(${job.jobid});`]),
      });
    }
    return;
  }
  if (!partman) return;
  const command = maintenanceCommand(m);
  const schedule =
    at === state.database
      ? `SELECT cron.schedule(${quoteLiteral(m.jobName)}, ${quoteLiteral(m.schedule)}, ${quoteLiteral(command)});`
      : `SELECT cron.schedule_in_database(${quoteLiteral(m.jobName)}, ${quoteLiteral(m.schedule)}, ${quoteLiteral(command)}, ${quoteLiteral(state.database)});`;
  if (!job) {
    step({ database: at, action: "schedule-job", summary: `schedule pg_cron job ${m.jobName} at "${m.schedule}": ${command}`, sql: [schedule] });
    return;
  }
  if (job.username !== state.user) {
    // A job runs as the user who scheduled it: the partitions it makes must belong to the role that owns the tables.
    step({
      database: at, action: "reassign-job",
      summary: `reschedule pg_cron job ${job.jobname} (jobid ${job.jobid}) as ${state.user} instead of ${job.username}, at "${m.schedule}": ${command}`,
      sql: [...asJobOwner(job, state, [`SELECT cron.unschedule(${job.jobid});`]), schedule],
    });
    return;
  }
  const changes: PropertyChange[] = [];
  if (job.schedule !== m.schedule) changes.push({ property: "schedule", from: job.schedule, to: m.schedule });
  if (job.command !== command) changes.push({ property: "command", from: job.command, to: command });
  if (!job.active) changes.push({ property: "active", from: false, to: true });
  if (changes.length === 0) return;
  step({
    database: at, action: "alter-job",
    summary: `alter pg_cron job ${job.jobname}: ${changes.map((c) => `${c.property} ${fmt(c.from)} → ${fmt(c.to)}`).join(", ")}`,
    changes,
    sql: [
      `SELECT cron.alter_job(job_id => ${job.jobid}, schedule => ${quoteLiteral(m.schedule)}, command => ${quoteLiteral(command)}, active => true);`,
    ],
  });
}

/** pg_cron lets only a job's own user (or a superuser) unschedule it: a job another user scheduled
 *  is unscheduled as the connecting user, then the session acts as its role again. */
function asJobOwner(job: CronJob, state: DatabaseState, sql: string[]): string[] {
  return job.username === state.user ? sql : ["SET LOCAL ROLE NONE;", ...sql, `SET LOCAL ROLE ${quoteIdent(state.user)};`];
}

function strategyName(s: string | null): string {
  return s === "r" ? "RANGE" : s === "l" ? "LIST" : s === "h" ? "HASH" : "nothing";
}

export function inSync(p: Plan): boolean {
  return p.steps.length === 0 && p.problems.length === 0;
}
