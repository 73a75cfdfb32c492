// Before the swap: the copy must equal the live table. Compared in one snapshot, over every row
// whose key has no change still waiting in the log (those are re-synced exactly, under the swap's
// lock): row count and an order-independent checksum of all rows, and row counts per partition
// range (rows outside every range belong in the default partition).

import type { Client } from "pg";
import { quoteIdent as q } from "../config/identifiers";
import { controlTimeSql } from "../partman/codecs";
import { MAINTENANCE_SCHEMA } from "../partman/maintenance-objects";
import type { Migration } from "./migration";

export interface Verification {
  ok: boolean;
  rows: number;
  checksum: string;
  copyRows: number;
  copyChecksum: string;
  /** Partition → [live rows, copied rows], for the ranges that differ (all of them when asked). */
  partitions: Record<string, [number, number]>;
  mismatched: string[];
  /** Rows the copy holds in its default partition (outside every declared range). */
  defaultRows: number;
  /** Keys left out because a change for them was still in the log. */
  pendingKeys: number;
}

export const DEFAULT_PARTITION = "(default)";

export async function verifyCopy(db: Client, m: Pick<Migration, "names" | "key" | "columns" | "table" | "partman">): Promise<Verification> {
  const { key: k, columns, table: t } = m;
  const [live, copy, log] = [m.names.source, m.names.staged, m.names.changes];
  const keys = k.keyColumns.map(q).join(", ");
  const pending = (alias: string) => `NOT EXISTS (SELECT 1 FROM ${log} l WHERE ${k.keyColumns.map((c) => `l.${q(c)} = ${alias}.${q(c)}`).join(" AND ")})`;
  const hash = (alias: string) => `hashtextextended(ROW(${columns.map((c) => `${alias}.${q(c)}`).join(", ")})::text, 0)`;
  // The copy's partitions as maintenance reads them: bounds on one axis, ids or epoch seconds.
  // MATERIALIZED: inlined, the bounds' parsing would run for every row and partition of the join.
  const bounds = `bounds AS MATERIALIZED (
      SELECT c.relname AS name, b.lower_bound AS lo, b.upper_bound AS hi
        FROM ${MAINTENANCE_SCHEMA}.partition_bounds(${m.names.stagedLiteral}::regclass) b JOIN pg_class c ON c.oid = b.partition)`;
  const control = `s.${q(k.control)}`;
  const position = t.kind === "id" ? control : `extract(epoch FROM (${controlTimeSql(m.partman, t, control)})::timestamptz)`;
  await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const totals = async (table: string) =>
      (await db.query<{ n: string; sum: string | null }>(`SELECT count(*) AS n, sum(${hash("s")}) AS sum FROM ${table} s WHERE ${pending("s")}`)).rows[0];
    const a = await totals(live);
    const b = await totals(copy);
    const liveParts = await db.query<{ part: string; n: string }>(
      `WITH ${bounds}
       SELECT coalesce(b.name, '${DEFAULT_PARTITION}') AS part, count(*) AS n
         FROM ${live} s LEFT JOIN bounds b ON ${position} >= b.lo AND ${position} < b.hi
        WHERE ${pending("s")} GROUP BY 1`,
    );
    const copyParts = await db.query<{ part: string; default: boolean; n: string }>(
      `SELECT c.relname AS part, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS default, count(*) AS n
         FROM ${copy} s JOIN pg_class c ON c.oid = s.tableoid WHERE ${pending("s")} GROUP BY 1, 2`,
    );
    const pendingKeys = (await db.query<{ n: string }>(`SELECT count(DISTINCT (${keys})) AS n FROM ${log}`)).rows[0].n;
    const partitions: Record<string, [number, number]> = {};
    for (const r of liveParts.rows) partitions[r.part] = [Number(r.n), 0];
    let defaultRows = 0;
    for (const r of copyParts.rows) {
      const name = r.default ? DEFAULT_PARTITION : r.part;
      if (r.default) defaultRows = Number(r.n);
      partitions[name] = [partitions[name]?.[0] ?? 0, Number(r.n)];
    }
    const mismatched = Object.entries(partitions).filter(([, [x, y]]) => x !== y).map(([p]) => p);
    return {
      ok: a.n === b.n && (a.sum ?? "0") === (b.sum ?? "0") && mismatched.length === 0,
      rows: Number(a.n),
      checksum: a.sum ?? "0",
      copyRows: Number(b.n),
      copyChecksum: b.sum ?? "0",
      partitions,
      mismatched,
      defaultRows,
      pendingKeys: Number(pendingKeys),
    };
  } finally {
    await db.query("COMMIT");
  }
}
