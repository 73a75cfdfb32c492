// A unique index copied onto the partitioned copy gains the partition key after its key columns,
// whatever pg_get_indexdef prints around them.

import { describe, expect, it } from "vitest";
import { parseSql, treeText } from "../../infra/config/sql-grammar";
import { withKeyColumn } from "../../infra/migrate/index-definition";

const read = (sql: string) => (parseSql(sql).stmts ?? []).map((x) => treeText(x.stmt!));

describe("withKeyColumn", () => {
  it.each([
    [`CREATE UNIQUE INDEX k ON partman_migrate.events USING btree (run_id)`, `CREATE UNIQUE INDEX k ON partman_migrate.events USING btree (run_id, created_at)`],
    // Not into INCLUDE's list, an expression's parentheses or the WHERE clause's.
    [
      `CREATE UNIQUE INDEX k ON partman_migrate.events USING btree (lower((kind)::text), (coalesce(a, 0)) DESC) INCLUDE (payload) WHERE (agent_id IS NOT NULL)`,
      `CREATE UNIQUE INDEX k ON partman_migrate.events USING btree (lower((kind)::text), (coalesce(a, 0)) DESC, created_at) INCLUDE (payload) WHERE (agent_id IS NOT NULL)`,
    ],
    [`CREATE UNIQUE INDEX "K" ON partman_migrate."Events" USING btree ("Run Id")`, `CREATE UNIQUE INDEX "K" ON partman_migrate."Events" USING btree ("Run Id", created_at)`],
  ])("%s", (def, expected) => {
    expect(read(withKeyColumn(def, "created_at"))).toEqual(read(expected));
  });

  it("quotes a column name that needs it", () => {
    expect(withKeyColumn(`CREATE UNIQUE INDEX k ON s.t USING btree (a)`, "Created At")).toContain(`(a, "Created At")`);
  });
});
