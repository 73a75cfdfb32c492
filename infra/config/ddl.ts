// Reads a table's DDL file well enough to check it against its declaration before any SQL runs:
// which table it creates, its columns, primary key and partitioning. Not a SQL parser: it splits
// statements and top-level lists, and refuses statements a table file has no business holding.
import { PartmanStackError } from "./errors";

export interface DdlColumn {
  name: string;
  /** The type as written, lower-case, e.g. "timestamptz", "timestamp with time zone". */
  type: string;
  notNull: boolean;
}

export interface TableDdl {
  schema: string | null;
  table: string;
  columns: DdlColumn[];
  primaryKey: string[];
  partition: { strategy: string; columns: string[] } | null;
}

export class DdlError extends PartmanStackError {}

/** Statements a table file may hold besides its one CREATE TABLE: they run once, in the same
 *  transaction, when the table is created. */
const ALLOWED = [/^create\s+(unique\s+)?index\s/i, /^comment\s+on\s/i, /^alter\s+table\s/i, /^grant\s/i];

export function parseTableDdl(sql: string): TableDdl {
  const statements = splitStatements(stripComments(sql));
  const creates = statements.filter((s) => /^create\s+(unlogged\s+)?table\s/i.test(s));
  if (creates.length !== 1) throw new DdlError(`it must hold exactly one CREATE TABLE statement; it holds ${creates.length}`);
  for (const s of statements) {
    if (s === creates[0]) continue;
    if (!ALLOWED.some((re) => re.test(s))) {
      throw new DdlError(`it holds "${s.split(/\s+/).slice(0, 3).join(" ")} …"; a table file may hold only its CREATE TABLE, CREATE INDEX, ALTER TABLE, COMMENT ON and GRANT statements`);
    }
    if (/\bconcurrently\b/i.test(s)) throw new DdlError(`CREATE INDEX CONCURRENTLY cannot run in the transaction that creates the table; drop CONCURRENTLY`);
    if (/\bdrop\b/i.test(s) && /^alter/i.test(s)) throw new DdlError(`it holds an ALTER TABLE … DROP; a table file must not drop anything`);
  }
  return parseCreateTable(creates[0]);
}

function parseCreateTable(stmt: string): TableDdl {
  const head = /^create\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?((?:"[^"]+"|[\w$]+)(?:\s*\.\s*(?:"[^"]+"|[\w$]+))?)\s*\(/i.exec(stmt);
  if (!head) throw new DdlError(`cannot read the table name of its CREATE TABLE`);
  const nameParts = head[1].split(/\s*\.\s*/).map(unquote);
  const open = head[0].length - 1;
  const close = matchingParen(stmt, open);
  const body = stmt.slice(open + 1, close);
  const tail = stmt.slice(close + 1).trim();

  const columns: DdlColumn[] = [];
  let primaryKey: string[] = [];
  for (const item of splitTopLevel(body, ",")) {
    const constraint = /^(?:constraint\s+(?:"[^"]+"|[\w$]+)\s+)?(primary\s+key|unique|check|foreign\s+key|exclude)\b/i.exec(item);
    if (constraint) {
      if (/^primary/i.test(constraint[1])) primaryKey = columnList(item.slice(constraint[0].length));
      continue;
    }
    if (/^like\s/i.test(item)) throw new DdlError(`CREATE TABLE … (LIKE …) hides the columns; list them`);
    const col = /^("[^"]+"|[\w$]+)\s+(.*)$/s.exec(item);
    if (!col) throw new DdlError(`cannot read the column definition "${item}"`);
    const rest = col[2];
    const type = /^(.*?)(?=\s+(?:not\s+null|null|default|primary|unique|check|references|generated|constraint|collate)\b|$)/is.exec(rest)![1];
    const name = unquote(col[1]);
    const isPk = /\bprimary\s+key\b/i.test(rest);
    if (isPk) primaryKey = [name];
    columns.push({ name, type: type.trim().toLowerCase().replace(/\s+/g, " "), notNull: isPk || /\bnot\s+null\b/i.test(rest) });
  }
  for (const c of columns) if (primaryKey.includes(c.name)) c.notNull = true;

  let partition: TableDdl["partition"] = null;
  const part = /^partition\s+by\s+(\w+)\s*\(/i.exec(tail);
  if (part) {
    const p = part[0].length - 1;
    partition = { strategy: part[1].toLowerCase(), columns: columnList(tail.slice(p)) };
  }
  return {
    schema: nameParts.length === 2 ? nameParts[0] : null,
    table: nameParts[nameParts.length - 1],
    columns,
    primaryKey,
    partition,
  };
}

/** "(a, b) …" → ["a", "b"]. */
function columnList(text: string): string[] {
  const t = text.trim();
  if (!t.startsWith("(")) return [];
  return splitTopLevel(t.slice(1, matchingParen(t, 0)), ",").map(unquote);
}

function unquote(s: string): string {
  const t = s.trim();
  return t.startsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t.toLowerCase();
}

function stripComments(sql: string): string {
  let out = "";
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = skipQuoted(sql, i);
      out += sql.slice(i, end);
      i = end - 1;
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 1;
      out += " ";
    } else out += c;
  }
  return out;
}

/** The statements of a SQL file, comments removed. For our own files and validated DDL files:
 *  dollar-quoted bodies are refused. */
export function splitSqlStatements(sql: string): string[] {
  return splitStatements(stripComments(sql));
}

function splitStatements(sql: string): string[] {
  return splitTopLevel(sql, ";").filter((s) => s !== "");
}

/** Splits on `sep` outside parentheses and quotes; trims each part. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') i = skipQuoted(text, i) - 1;
    else if (c === "$" && /^\$\w*\$/.test(text.slice(i))) throw new DdlError(`dollar-quoted bodies do not belong in a table file`);
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter((p) => p !== "");
}

function skipQuoted(text: string, i: number): number {
  const q = text[i];
  let j = i + 1;
  while (j < text.length) {
    if (text[j] === q) {
      if (text[j + 1] === q) j += 2;
      else return j + 1;
    } else j++;
  }
  throw new DdlError(`it has an unterminated ${q === "'" ? "string" : "quoted identifier"}`);
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') i = skipQuoted(text, i) - 1;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
  }
  throw new DdlError(`it has an unbalanced parenthesis`);
}
