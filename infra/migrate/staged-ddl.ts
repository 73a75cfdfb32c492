// A table's DDL file, made about the partitioned copy in the staging schema: every reference to
// the table, schema-qualified or not, names the copy. An unqualified name left as it is would
// resolve through search_path to the live table, and prepare would build the file's indexes (or
// run its ALTERs) on it. Only the places a table file names a table are rewritten, so a column or
// index that shares the table's name is left alone.

import { splitSqlStatements } from "../config/ddl";
import { quoteIdent as q } from "../config/identifiers";
import type { TableSpec } from "../config/types";
import { STAGING } from "../config/derived-names";

interface Token {
  text: string;
  /** A bare word, lower-cased. */
  word?: string;
  /** An identifier's value: a bare word folded to lower case, or a quoted one as written. */
  ident?: string;
}

const TOKEN = /\s+|'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][\w$]*|\d+|./gs;

function tokenize(sql: string): Token[] {
  return (sql.match(TOKEN) ?? []).map((text) => {
    if (/^[A-Za-z_]/.test(text)) return { text, word: text.toLowerCase(), ident: text.toLowerCase() };
    if (text.startsWith('"')) return { text, ident: text.slice(1, -1).replace(/""/g, '"') };
    return { text };
  });
}

/** The file's statements, each rewritten to name the copy wherever it names the table. */
export function stagedDdl(t: Pick<TableSpec, "schema" | "table">, sql: string): string[] {
  return splitSqlStatements(sql).map((s) => stagedStatement(t, s));
}

export function stagedStatement(t: Pick<TableSpec, "schema" | "table">, statement: string): string {
  const all = tokenize(statement);
  // Significant tokens: what the grammar below looks at.
  const s = all.filter((x) => !/^\s/.test(x.text));
  const is = (k: number, ...words: string[]) => words.every((w, j) => s[k + j]?.word === w);
  const skip = (k: number, ...words: string[]) => (is(k, ...words) ? k + words.length : k);
  const after = (from: number, word: string) => s.findIndex((x, k) => k >= from && x.word === word);

  // Where a table name starts; `column`: the name ends with a column (COMMENT ON COLUMN t.c).
  const at: { k: number; column?: boolean }[] = [];
  if (is(0, "create")) {
    const k = skip(1, "unlogged");
    if (is(k, "table")) at.push({ k: skip(k + 1, "if", "not", "exists") });
    else if (is(skip(1, "unique"), "index")) {
      const on = after(2, "on");
      if (on > 0) at.push({ k: skip(on + 1, "only") });
    }
  } else if (is(0, "alter", "table")) {
    at.push({ k: skip(skip(2, "if", "exists"), "only") });
  } else if (is(0, "comment", "on")) {
    if (is(2, "table")) at.push({ k: 3 });
    else if (is(2, "column")) at.push({ k: 3, column: true });
    else {
      // COMMENT ON CONSTRAINT|TRIGGER|POLICY|RULE name ON table
      const on = after(3, "on");
      if (on > 0) at.push({ k: on + 1 });
    }
  } else if (is(0, "grant")) {
    const on = after(1, "on");
    if (on > 0 && !is(on + 1, "all")) {
      let k = skip(on + 1, "table");
      for (;;) {
        at.push({ k });
        k = name(s, k).end;
        if (s[k]?.text !== ",") break;
        k++;
      }
    }
  }
  s.forEach((x, k) => x.word === "references" && at.push({ k: k + 1 }));

  const replace = new Map<Token, { last: Token; text: string }>();
  for (const { k, column } of at) {
    const n = name(s, k);
    const parts = column ? n.parts.slice(0, -1) : n.parts;
    const ours = (parts.length === 1 && parts[0] === t.table) || (parts.length === 2 && parts[0] === t.schema && parts[1] === t.table);
    if (!ours) continue;
    const last = s[k + parts.length * 2 - 2];
    replace.set(s[k], { last, text: `${q(STAGING)}.${q(t.table)}` });
  }
  let out = "";
  for (let i = 0; i < all.length; i++) {
    const r = replace.get(all[i]);
    if (!r) {
      out += all[i].text;
      continue;
    }
    out += r.text;
    i = all.indexOf(r.last, i);
  }
  return out;
}

/** The dotted name starting at significant token k: its parts, and the token after it. */
function name(s: Token[], k: number): { parts: string[]; end: number } {
  const parts: string[] = [];
  let i = k;
  while (s[i]?.ident !== undefined) {
    parts.push(s[i].ident!);
    i++;
    if (s[i]?.text !== "." || s[i + 1]?.ident === undefined) break;
    i++;
  }
  return { parts, end: i };
}
