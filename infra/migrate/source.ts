// What the migration needs to know about the live table before touching it: its columns, primary
// key, the foreign keys that point at it, its owner and grants, and what the copy would meet
// (NULL control values, rows outside the partitions). Read-only.

import type { Client } from "pg";
import type { MigrationNames } from "./names";

export interface Column {
  name: string;
  type: string;
  /** Generated columns are computed by the target, never copied. */
  generated: boolean;
}

export interface ReferencingKey {
  name: string;
  table: string;
  definition: string;
}

export interface Grant {
  grantee: string;
  privilege: string;
  grantable: boolean;
}

export interface SourceTable {
  relkind: string | null;
  columns: Column[];
  keyColumns: string[];
  owner: string;
  /** Whether the role the session acts as may act as the owner: renaming the table, adding the
   *  capture trigger and handing the copy to the same owner all need it. */
  actsAsOwner: boolean;
  grants: Grant[];
  referencedBy: ReferencingKey[];
  estimatedRows: number;
}

export async function inspectTable(db: Client, schema: string, table: string): Promise<SourceTable> {
  const rel = (
    await db.query<{ oid: number; relkind: string; owner: string; acts_as_owner: boolean; reltuples: number }>(
      `SELECT c.oid::int, c.relkind::text, pg_get_userbyid(c.relowner) AS owner, pg_has_role(current_user, c.relowner, 'USAGE') AS acts_as_owner,
              c.reltuples::float8 AS reltuples
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    )
  ).rows[0];
  if (!rel) return { relkind: null, columns: [], keyColumns: [], owner: "", actsAsOwner: true, grants: [], referencedBy: [], estimatedRows: 0 };
  const columns = (
    await db.query<Column>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attgenerated <> '' AS generated
         FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [rel.oid],
    )
  ).rows;
  const key = (
    await db.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_constraint k
         CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
        WHERE k.conrelid = $1 AND k.contype = 'p' ORDER BY u.ord`,
      [rel.oid],
    )
  ).rows.map((r) => r.name);
  const grants = (
    await db.query<Grant>(
      `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable
         FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
        WHERE c.oid = $1 AND a.grantee <> c.relowner ORDER BY 1, 2`,
      [rel.oid],
    )
  ).rows;
  const referencedBy = (
    await db.query<ReferencingKey>(
      `SELECT k.conname AS name, k.conrelid::regclass::text AS table, pg_get_constraintdef(k.oid) AS definition
         FROM pg_constraint k WHERE k.confrelid = $1 AND k.contype = 'f' AND k.conrelid <> $1 ORDER BY 1`,
      [rel.oid],
    )
  ).rows;
  return {
    relkind: rel.relkind,
    columns,
    keyColumns: key,
    owner: rel.owner,
    actsAsOwner: rel.acts_as_owner,
    grants,
    referencedBy,
    estimatedRows: Math.max(0, Math.round(rel.reltuples)),
  };
}

/** Relations in the source's schema that share a name with an index or sequence of the staged
 *  table, which moves there at the swap. Those belonging to the source are renamed at the swap;
 *  any other is a conflict the user must resolve. */
export async function clashingNames(db: Client, n: MigrationNames): Promise<{ name: string; kind: string; ofSource: boolean }[]> {
  const r = await db.query<{ name: string; kind: string; of_source: boolean }>(
    `WITH moving AS (
       SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ${n.stagedLiteral}::regclass
       UNION ALL
       SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        WHERE d.refobjid = ${n.stagedLiteral}::regclass AND d.deptype IN ('a', 'i')
     )
     SELECT e.relname AS name, e.relkind::text AS kind,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = e.oid AND i.indrelid = ${n.sourceLiteral}::regclass)
            OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = e.oid AND d.refobjid = ${n.sourceLiteral}::regclass AND d.deptype IN ('a', 'i')) AS of_source
       FROM moving m JOIN pg_class e ON e.relname = m.relname JOIN pg_namespace en ON en.oid = e.relnamespace
      WHERE en.nspname = $1`,
    [n.schema],
  );
  return r.rows.map((x) => ({ name: x.name, kind: x.kind, ofSource: x.of_source }));
}

export function describeColumns(cols: Column[]): string {
  return cols.map((c) => `${c.name} ${c.type}`).join(", ");
}
