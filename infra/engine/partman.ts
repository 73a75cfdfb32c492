// Everything that differs between pg_partman 4.x and 5.x lives here; the rest of the engine
// asks this module for SQL and never branches on the version itself.

import type { TableSpec } from "../config/types";
import { quoteIdent, quoteLiteral } from "../config/identifiers";

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

/** What the pg_cron job runs: the procedure commits after each partition set. */
export function maintenanceCommand(schema: string, analyze: boolean): string {
  return `CALL ${quoteIdent(schema)}.run_maintenance_proc(p_analyze => ${analyze})`;
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
