// A table's DDL file, made about the partitioned copy in the staging schema: every reference to
// the table, schema-qualified or not, names the copy. An unqualified name left as it is would
// resolve through search_path to the live table, and prepare would build the file's indexes (or
// run its ALTERs) on it. The references are renamed in each statement's parse tree, where only the
// places that name a table hold one, so a column, index or sequence that shares its name is left
// alone; the tree is then printed back as SQL.

import { parseSql, printSql, sqlStatements, type Node } from "../config/sql-grammar";
import type { TableSpec } from "../config/types";
import { STAGING } from "../config/derived-names";

type Table = Pick<TableSpec, "schema" | "table">;

/** The file's statements, each rewritten to name the copy wherever it names the table. */
export function stagedDdl(t: Table, sql: string): string[] {
  return sqlStatements(sql).map((s) => printSql(staged(t, s.stmt)));
}

/** One statement (e.g. pg_get_indexdef's output), rewritten to name the copy. */
export function stagedStatement(t: Table, statement: string): string {
  const stmts = parseSql(statement).stmts ?? [];
  if (stmts.length !== 1) throw new Error(`expected one statement, got ${stmts.length}: ${statement}`);
  return printSql(staged(t, stmts[0].stmt!));
}

function staged(t: Table, stmt: Node): Node {
  const copy = structuredClone(stmt);
  rename(copy, t);
  return copy;
}

/** COMMENT ON objects named by a list that ends with the table's name, or with a name on the table. */
const COMMENT_ON_TABLE = new Set(["OBJECT_TABLE"]);
const COMMENT_ON_TABLE_PART = new Set(["OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_TRIGGER", "OBJECT_POLICY", "OBJECT_RULE"]);

function rename(node: unknown, t: Table): void {
  if (Array.isArray(node)) {
    for (const n of node) rename(n, t);
    return;
  }
  if (node === null || typeof node !== "object") return;
  const n = node as Record<string, unknown>;
  // GRANT … ON SEQUENCE and ALTER INDEX|SEQUENCE name other kinds of relation with the same node.
  const other = (x: unknown) => (x as { objtype?: string } | undefined)?.objtype !== "OBJECT_TABLE";
  if (("GrantStmt" in n && other(n.GrantStmt)) || ("AlterTableStmt" in n && other(n.AlterTableStmt))) return;
  // A RangeVar: a table's name, as CREATE TABLE|INDEX, ALTER TABLE, GRANT and REFERENCES hold it.
  if (typeof n.relname === "string") {
    if (n.catalogname === undefined && n.relname === t.table && (n.schemaname === undefined || n.schemaname === t.schema)) n.schemaname = STAGING;
    return;
  }
  if ("CommentStmt" in n) {
    const c = n.CommentStmt as { objtype?: string; object?: { List?: { items?: Node[] } } };
    const items = c.object?.List?.items;
    const tableParts = !items ? 0 : COMMENT_ON_TABLE.has(c.objtype ?? "") ? items.length : COMMENT_ON_TABLE_PART.has(c.objtype ?? "") ? items.length - 1 : 0;
    const name = (items ?? []).slice(0, tableParts).map((x) => (x as { String: { sval: string } }).String.sval);
    if ((name.length === 1 && name[0] === t.table) || (name.length === 2 && name[0] === t.schema && name[1] === t.table)) {
      items!.splice(0, tableParts, { String: { sval: STAGING } }, { String: { sval: t.table } });
    }
    return;
  }
  for (const v of Object.values(n)) rename(v, t);
}
