// Every object a table's migration creates, named in one place. The partitioned copy is built in
// the staging schema under the table's own name, so pg_partman names its partitions as it will
// after the swap (events_p20261123, not events_intermediate_p20261123).

import { quoteIdent as q, quoteLiteral } from "../config/identifiers";
import { migrationHelperNames, STAGING } from "../config/derived-names";
import type { TableSpec } from "../config/types";

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
  const [changes, reverseChanges, capture, reverseCapture, retired] = migrationHelperNames(table);
  return {
    key: `${schema}.${table}`,
    schema,
    table,
    source: `${q(schema)}.${q(table)}`,
    staged: `${q(STAGING)}.${q(table)}`,
    stagedText: `${STAGING}.${table}`,
    changes: `${q(STAGING)}.${q(changes)}`,
    reverseChanges: `${q(STAGING)}.${q(reverseChanges)}`,
    capture,
    reverseCapture,
    retiredName: retired,
    retired: `${q(schema)}.${q(retired)}`,
    sourceLiteral: quoteLiteral(`${q(schema)}.${q(table)}`),
    stagedLiteral: quoteLiteral(`${q(STAGING)}.${q(table)}`),
  };
}
