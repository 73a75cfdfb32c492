// pg_partman's functions over a set's existing partitions: listing them, moving rows out of the
// default partition into partitions of their own, filling gaps between partitions, checking the
// default partitions.

import type { TableSpec } from "../config/types";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import { MAINTENANCE_SCHEMA } from "./maintenance-objects";
import type { PartmanInstall } from "./version";

/** The set's partitions that are partitioned in turn, as part_config names them. */
export function subParentsSql(p: PartmanInstall, t: TableSpec): string {
  return `SELECT partition_schemaname || '.' || partition_tablename FROM ${quoteIdent(p.schema)}.show_partitions(${quoteLiteral(t.name)})`;
}

/** One partition's worth of rows out of the default partition, as `moved` (the function form, so
 *  it runs in the transaction that locked the parent first). 5.3+ inserts the moved rows without
 *  OVERRIDING SYSTEM VALUE unless told: a GENERATED ALWAYS identity would refuse them, and the
 *  rows must keep their ids. */
export function moveDefaultRowsSql(p: PartmanInstall, t: TableSpec): string {
  const keepIds = p.overridesSystemValue ? ", p_override_system_value => true" : "";
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

/** pg_partman's report of default partitions holding rows, as a user would call it. */
export function checkDefaultCall(p: PartmanInstall): string {
  return `${p.schema}.check_default()`;
}
