// The driver's quoting, read back by PostgreSQL's own parser: every value comes back as it went in,
// a backslash included (pg writes an E'…' string for it).

import { describe, expect, it } from "vitest";
import { quoteIdent, quoteLiteral } from "../../infra/config/identifiers";
import { parseSql } from "../../infra/config/sql-grammar";

const VALUES = ["plain", "it's", "back\\slash", "both \\' and ''", `say "hi"`, "semi; -- colon", "ünïcode", ""];

function selected(sql: string) {
  const select = parseSql(sql).stmts![0].stmt as { SelectStmt: { targetList: { ResTarget: { name?: string; val: { A_Const: { sval?: { sval?: string } } } } }[] } };
  return select.SelectStmt.targetList[0].ResTarget;
}

describe("quoteLiteral and quoteIdent", () => {
  it.each(VALUES)("%j reads back as itself", (v) => {
    expect(selected(`SELECT ${quoteLiteral(v)}`).val.A_Const.sval?.sval ?? "").toBe(v);
    if (v !== "") expect(selected(`SELECT 1 AS ${quoteIdent(v)}`).name).toBe(v);
  });

  it("writes a backslash's value as an E'…' string, whatever standard_conforming_strings is", () => {
    expect(quoteLiteral("a\\b")).toBe(` E'a\\\\b'`);
    expect(quoteLiteral("it's")).toBe(`'it''s'`);
    expect(quoteIdent(`a"b`)).toBe(`"a""b"`);
  });
});
