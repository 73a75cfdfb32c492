// pg_partman's configuration of a set (part_config, and part_config_sub for its sub-partitions):
// the rows as partman-stack reads them, the part of them it manages (ManagedConfig), as declared
// and as live, and the statements that read and update them.

import type { Client } from "pg";
import type { TableSpec } from "../config/types";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import { MAINTENANCE_SCHEMA } from "./maintenance-objects";
import { subParentsSql } from "./partitions";
import type { PartmanInstall } from "./version";

/** A set's part_config row, or its part_config_sub row with the sub_ columns named as part_config's. */
export interface PartConfigRow {
  parent_table: string;
  control: string;
  partition_interval: string;
  premake: number;
  retention: string | null;
  retention_keep_table: boolean;
  retention_schema: string | null;
  infinite_time_partitions: boolean;
  automatic_maintenance: string;
  /** 'none', or the unit of an integer control column's epoch times. */
  epoch: string;
  /** A uuid or text control column's time encoder and decoder as pg_partman stores them (5.2+); null otherwise. */
  time_encoder: string | null;
  time_decoder: string | null;
}

/** A set's declared retention as partman-stack keeps it (partman_stack.retention). */
export interface RetentionRow {
  retention: string;
  keep_table: boolean;
  retention_schema: string | null;
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

/** A config column as plans and their property changes name it: `part_config.<column>`, or
 *  `part_config_sub.<column>` for sub-partitions. */
export function configColumnName(column: string, level: ConfigLevel = "set"): string {
  return `${level === "sub" ? "part_config_sub" : "part_config"}.${column}`;
}

/** pg_partman's config tables, as the lock helper takes them. */
export function partmanConfigTables(p: PartmanInstall): [config: string, sub: string] {
  return [`${quoteIdent(p.schema)}.part_config`, `${quoteIdent(p.schema)}.part_config_sub`];
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
  const [config, sub] = partmanConfigTables(p);
  if (level === "set") return `UPDATE ${config} SET ${sets("")} WHERE parent_table = ${quoteLiteral(t.name)};`;
  return (
    `UPDATE ${sub} SET ${sets("sub_")} WHERE sub_parent = ${quoteLiteral(t.name)};\n` +
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

function sqlValue(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  return quoteLiteral(String(v));
}

/** A set's part_config row; null when it is not registered. The time encoder and decoder columns
 *  came with 5.2: read through to_jsonb, null before. */
export async function readPartConfig(db: Client, p: PartmanInstall, parent: string): Promise<PartConfigRow | null> {
  const [config] = partmanConfigTables(p);
  const rows = await db.query<PartConfigRow>(
    `SELECT parent_table, control, partition_interval, premake, retention, retention_keep_table,
            retention_schema, infinite_time_partitions, automatic_maintenance, epoch,
            to_jsonb(pc)->>'time_encoder' AS time_encoder, to_jsonb(pc)->>'time_decoder' AS time_decoder
       FROM ${config} pc WHERE parent_table = $1`,
    [parent],
  );
  return rows.rows[0] ?? null;
}

/** A set's part_config_sub row (what pg_partman gives the sub-parents it makes), its sub_ columns
 *  named as part_config's; null when its partitions are not partitioned by pg_partman. */
export async function readSubConfig(db: Client, p: PartmanInstall, parent: string): Promise<PartConfigRow | null> {
  const [, sub] = partmanConfigTables(p);
  const rows = await db.query<PartConfigRow>(
    `SELECT sub_parent AS parent_table, sub_control AS control, sub_partition_interval AS partition_interval, sub_premake AS premake,
            sub_retention AS retention, sub_retention_keep_table AS retention_keep_table, sub_retention_schema AS retention_schema,
            sub_infinite_time_partitions AS infinite_time_partitions, sub_automatic_maintenance AS automatic_maintenance,
            sub_epoch AS epoch, to_jsonb(s)->>'sub_time_encoder' AS time_encoder, to_jsonb(s)->>'sub_time_decoder' AS time_decoder
       FROM ${sub} s WHERE sub_parent = $1`,
    [parent],
  );
  return rows.rows[0] ?? null;
}

/** The sets registered with pg_partman other than `declared` (schema.table each) and their
 *  sub-parents, which are managed with them. */
export async function undeclaredSets(db: Client, p: PartmanInstall, declared: string[]): Promise<string[]> {
  const [config] = partmanConfigTables(p);
  const rows = await db.query<{ parent_table: string }>(
    `SELECT parent_table FROM ${config} pc WHERE parent_table <> ALL($1)
        AND NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace
                         WHERE i.inhrelid = to_regclass(pc.parent_table) AND n.nspname || '.' || p.relname = ANY($1))
      ORDER BY 1`,
    [declared],
  );
  return rows.rows.map((r) => r.parent_table);
}

/** The oids of the template tables of the sets named by `parents` (an SQL query of schema.table
 *  names), as SQL, for a query to include: pg_partman 5.5 (CVE-2026-61820) creates partitions from a
 *  template only for a role acting for its owner. */
export function templateTablesSql(schema: string, parents: string): string {
  return (
    `SELECT to_regclass(pc.template_table)::oid FROM ${quoteIdent(schema)}.part_config pc\n` +
    `     WHERE to_regclass(pc.template_table) IS NOT NULL\n` +
    `       AND pc.parent_table IN (${parents})`
  );
}
