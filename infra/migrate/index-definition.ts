// An index definition as pg_get_indexdef prints it, changed in its parse tree rather than its text.

import { parseSql, printSql } from "../config/sql-grammar";

/** `def` (one CREATE INDEX) with `column` added after its key columns (INCLUDE columns and a
 *  WHERE clause stay as they are). */
export function withKeyColumn(def: string, column: string): string {
  const stmts = parseSql(def).stmts ?? [];
  const stmt = stmts.length === 1 ? stmts[0].stmt : undefined;
  if (!stmt || !("IndexStmt" in stmt)) throw new Error(`expected one CREATE INDEX statement: ${def}`);
  const index = structuredClone(stmt.IndexStmt);
  index.indexParams = [...(index.indexParams ?? []), { IndexElem: { name: column, ordering: "SORTBY_DEFAULT", nulls_ordering: "SORTBY_NULLS_DEFAULT" } }];
  return printSql({ IndexStmt: index });
}
