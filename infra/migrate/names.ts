// Every object a table's migration creates, named in one place. The partitioned copy is built in
// the staging schema under the table's own name, so pg_partman names its partitions as it will
// after the swap (events_p20261123, not events_intermediate_p20261123).

import { quoteIdent as q, quoteLiteral } from "../config/identifiers";
import type { TableSpec } from "../config/types";

export const STAGING = "partman_migrate";
/** Longest suffix added to the table's name; PostgreSQL truncates names past 63 bytes. */
const LONGEST_SUFFIX = "_capture_reverse";

export interface MigrationNames {
  /** schema.table, as stored in the state table and part_config. */
  key: string;
  schema: string;
  table: string;
  source: string;
  staged: string;
  /** The staged parent as pg_partman's part_config names it. */
  stagedText: string;
  changes: string;
  reverseChanges: string;
  /** Trigger function names, in the staging schema. */
  capture: string;
  reverseCapture: string;
  retiredName: string;
  retired: string;
  /** Literal forms, for catalog lookups. */
  sourceLiteral: string;
  stagedLiteral: string;
}

export function migrationNames(t: Pick<TableSpec, "schema" | "table">): MigrationNames {
  const { schema, table } = t;
  return {
    key: `${schema}.${table}`,
    schema,
    table,
    source: `${q(schema)}.${q(table)}`,
    staged: `${q(STAGING)}.${q(table)}`,
    stagedText: `${STAGING}.${table}`,
    changes: `${q(STAGING)}.${q(`${table}_changes`)}`,
    reverseChanges: `${q(STAGING)}.${q(`${table}_changes_reverse`)}`,
    capture: `${table}_capture`,
    reverseCapture: `${table}_capture_reverse`,
    retiredName: `${table}_retired`,
    retired: `${q(schema)}.${q(`${table}_retired`)}`,
    sourceLiteral: quoteLiteral(`${q(schema)}.${q(table)}`),
    stagedLiteral: quoteLiteral(`${q(STAGING)}.${q(table)}`),
  };
}

export function nameTooLong(table: string): boolean {
  return Buffer.byteLength(table + LONGEST_SUFFIX) > 63;
}
