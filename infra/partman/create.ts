// Registering a set with pg_partman: create_parent (create_partition on 5.4+), sub-partitioning its
// partitions with create_sub_parent (create_sub_partition), and its default partition, which 4.x
// always makes and 5.x makes only when asked.

import type { TableSpec } from "../config/types";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import { defaultPartitionName } from "./child-names";
import { timeCodecNames } from "./codecs";
import type { ManagedConfig } from "./config";
import type { PartmanInstall } from "./version";

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

/** What create_parent (or create_sub_parent) leaves in part_config of what partman-stack manages:
 *  the premake it was given, pg_partman's defaults for the rest (the update-config step sets them). */
export function registeredConfig(desired: ManagedConfig): ManagedConfig {
  return { ...desired, retention: null, retention_keep_table: false, retention_schema: null, infinite_time_partitions: false };
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

/** A default partition added to a registered set, named as pg_partman names its own. */
export function createDefaultPartitionSql(t: TableSpec): string {
  return `CREATE TABLE ${quoteIdent(t.schema)}.${quoteIdent(defaultPartitionName(t.table))} PARTITION OF ${quoteIdent(t.schema)}.${quoteIdent(t.table)} DEFAULT;`;
}
