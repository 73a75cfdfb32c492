// Everything that differs between pg_partman 4.x and 5.x lives here; the rest of the engine
// asks this module for SQL and never branches on the version itself.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { TableSpec } from "../config/types";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import type { PartConfigRow } from "./introspect";

export interface PartmanInstall {
  version: string;
  major: number;
  schema: string;
}

export function partmanInstall(version: string, schema: string): PartmanInstall {
  return { version, major: Number(version.split(".")[0]), schema };
}

/** The part_config columns partman-stack manages, with the desired value for a table. */
export interface ManagedConfig {
  premake: number;
  retention: string | null;
  retention_keep_table: boolean;
  retention_schema: string | null;
  infinite_time_partitions: boolean;
  automatic_maintenance: "on" | "off";
}

/** The declaration key behind each part_config column partman-stack sets from the declaration. */
export const DECLARED_COLUMNS = [
  ["premake", "premake"],
  ["retention", "retention"],
  ["retentionKeepTable", "retention_keep_table"],
  ["retentionSchema", "retention_schema"],
  ["infiniteTimePartitions", "infinite_time_partitions"],
] as const;

export function desiredConfig(t: TableSpec): ManagedConfig {
  return {
    premake: t.premake,
    retention: t.retention?.text ?? null,
    retention_keep_table: t.retentionKeepTable,
    retention_schema: t.retentionSchema,
    infinite_time_partitions: t.infiniteTimePartitions,
    // run_maintenance_proc() skips sets whose automatic_maintenance is off.
    automatic_maintenance: "on",
  };
}

export function managedFromRow(row: PartConfigRow): ManagedConfig {
  return {
    premake: row.premake,
    retention: row.retention,
    retention_keep_table: row.retention_keep_table,
    retention_schema: row.retention_schema,
    infinite_time_partitions: row.infinite_time_partitions,
    automatic_maintenance: row.automatic_maintenance === "off" ? "off" : "on",
  };
}

/** create_parent always with named arguments: 5.x moved p_interval to third place. */
export function createParentSql(p: PartmanInstall, t: TableSpec): string {
  const args: string[] = [
    `p_parent_table => ${quoteLiteral(`${t.schema}.${t.table}`)}`,
    `p_control => ${quoteLiteral(t.control)}`,
  ];
  if (p.major < 5) args.push(`p_type => 'native'`);
  args.push(`p_interval => ${quoteLiteral(t.interval.text)}`, `p_premake => ${t.premake}`);
  if (t.startPartition) args.push(`p_start_partition => ${quoteLiteral(t.startPartition)}`);
  // 4.x always creates the default partition; see dropFreshDefaultSql.
  if (p.major >= 5) args.push(`p_default_table => ${t.defaultPartition}`);
  return `SELECT ${quoteIdent(p.schema)}.create_parent(${args.join(", ")});`;
}

/** 4.x has no p_default_table: a set declared without a default partition gets the one
 *  create_parent just made (empty: the parent held no rows) dropped in the same transaction. */
export function dropFreshDefaultSql(p: PartmanInstall, t: TableSpec): string | null {
  if (p.major >= 5 || t.defaultPartition) return null;
  return `DROP TABLE ${quoteIdent(t.schema)}.${quoteIdent(defaultPartitionName(t.table))};`;
}

export function defaultPartitionName(table: string): string {
  return `${table}_default`;
}

export function createDefaultPartitionSql(t: TableSpec): string {
  return `CREATE TABLE ${quoteIdent(t.schema)}.${quoteIdent(defaultPartitionName(t.table))} PARTITION OF ${quoteIdent(t.schema)}.${quoteIdent(t.table)} DEFAULT;`;
}

export function updateConfigSql(p: PartmanInstall, t: TableSpec, changed: Partial<ManagedConfig>): string {
  const sets = Object.entries(changed).map(([col, v]) => `${col} = ${sqlValue(v)}`);
  return `UPDATE ${quoteIdent(p.schema)}.part_config SET ${sets.join(", ")} WHERE parent_table = ${quoteLiteral(`${t.schema}.${t.table}`)};`;
}

/** The function form: it runs inside apply's transaction (the procedure form commits). */
export function runTableMaintenanceSql(p: PartmanInstall, t: TableSpec): string {
  return `SELECT ${quoteIdent(p.schema)}.run_maintenance(p_parent_table => ${quoteLiteral(`${t.schema}.${t.table}`)}, p_analyze => false);`;
}

/** pg_partman's own lock around a maintenance run (both majors): a run_maintenance() that finds it
 *  taken returns with only a NOTICE. 4.7's run_maintenance_proc holds it for its whole loop. */
export const PARTMAN_MAINTENANCE_LOCK = "pg_partman run_maintenance";

/** partman-stack's schema in the target database: the maintenance procedure the job calls. */
export const MAINTENANCE_SCHEMA = "partman_stack";
export const MAINTENANCE_PROCEDURE_FILE = "sql/maintenance/run_maintenance.sql";
// Read when the module loads, so a closure-serialized provider carries the text.
const MAINTENANCE_PROCEDURE_SQL = fs.readFileSync(path.join(__dirname, "../..", MAINTENANCE_PROCEDURE_FILE), "utf8");

/** The procedure's SQL for this pg_partman, ending with a comment that marks the installed version:
 *  introspect reads the mark back, and plan reinstalls the procedure when it differs. */
export function maintenanceProcedure(p: PartmanInstall): { mark: string; sql: string } {
  const body = MAINTENANCE_PROCEDURE_SQL.replace(/@extschema@/g, quoteIdent(p.schema)).trim();
  const mark = `partman-stack ${MAINTENANCE_PROCEDURE_FILE} sha256:${crypto.createHash("sha256").update(body).digest("hex").slice(0, 16)}`;
  return { mark, sql: `${body}\n\nCOMMENT ON PROCEDURE ${MAINTENANCE_SCHEMA}.run_maintenance(boolean) IS ${quoteLiteral(mark)};` };
}

/** What the pg_cron job runs: pg_partman's run_maintenance_proc (it commits after each partition
 *  set) through the procedure above, so it runs in UTC whatever the server's TimeZone. */
export function maintenanceCommand(analyze: boolean): string {
  return `CALL ${MAINTENANCE_SCHEMA}.run_maintenance(p_analyze => ${analyze})`;
}

export function createExtensionSql(schema: string, version: string | null): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};`,
    `CREATE EXTENSION IF NOT EXISTS pg_partman WITH SCHEMA ${quoteIdent(schema)}${version ? ` VERSION ${quoteLiteral(version)}` : ""};`,
  ];
}

function sqlValue(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  return quoteLiteral(String(v));
}
