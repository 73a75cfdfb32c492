// A table's hot queries, as declared (`queries:` in its stack-file entry) or as files
// (sql/queries/<schema>.<table>/<name>.sql with a `-- @key value` header), checked before any SQL
// runs. They are run only as prepared statements under EXPLAIN with their example parameters bound
// (engine/pruning.ts), so the checks here are about giving one clear error per mistake, not about
// making the text safe: one statement, placeholders numbered without a hole, one value for each.

import fs from "node:fs";
import path from "node:path";
import type { QuerySpec } from "./types";
import { describe } from "./errors";

export const QUERY_DEFAULTS = {
  /** A time window may straddle one partition boundary. */
  maxPartitions: 2,
  index: false,
};
export const QUERIES_DIR = "sql/queries";
const QUERY_KEYS = ["name", "sql", "params", "maxPartitions", "index"];
const HEADER_KEYS = ["params", "maxPartitions", "index"];
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const STATEMENTS = /^(select|with|update|delete)$/i;

type Report = (message: string) => void;
interface Table {
  schema: string;
  table: string;
}

/** A table entry's `queries:` list. */
export function validateQueryList(raw: unknown, t: Table, p: Report): QuerySpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    p(`queries must be a list of {name, sql, params, maxPartitions, index}, got ${describe(raw)}`);
    return [];
  }
  return raw.flatMap((e, i) => {
    const source = `queries[${i}]`;
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      p(`queries: ${source} must be a mapping with name, sql and params, got ${describe(e)}`);
      return [];
    }
    const entry = e as Record<string, unknown>;
    const name = typeof entry.name === "string" ? entry.name : null;
    const q = (m: string) => p(`query ${name ? `"${name}" ` : ""}(${source}): ${m}`);
    for (const k of Object.keys(entry)) if (!QUERY_KEYS.includes(k)) q(`unknown key "${k}" (known: ${QUERY_KEYS.join(", ")})`);
    const spec = querySpec(entry, source, t, q);
    return spec ? [spec] : [];
  });
}

/** The table's query files: sql/queries/<schema>.<table>/*.sql under the project root, each named
 *  by its file name, its parameters and bounds in `-- @params`, `-- @maxPartitions` and `-- @index`
 *  lines of its leading comment. */
export function readQueryFiles(root: string, t: Table, p: Report): QuerySpec[] {
  const dir = path.join(QUERIES_DIR, `${t.schema}.${t.table}`);
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) return [];
  return fs
    .readdirSync(abs)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) => {
      const source = path.posix.join(dir.split(path.sep).join("/"), f);
      const q = (m: string) => p(`query "${f.slice(0, -4)}" (${source}): ${m}`);
      const text = fs.readFileSync(path.join(abs, f), "utf8");
      const spec = querySpec({ name: f.slice(0, -4), sql: text, ...header(text, q) }, source, t, q);
      return spec ? [spec] : [];
    });
}

/** Names are what verify and the errors call queries by: unique per table. */
export function duplicateQueryNames(queries: QuerySpec[], p: Report) {
  const seen = new Map<string, string>();
  for (const q of queries) {
    const first = seen.get(q.name);
    if (first) p(`query "${q.name}" is declared twice (${first} and ${q.source}); rename one`);
    else seen.set(q.name, q.source);
  }
}

/** The `-- @key value` lines of a query file's leading comment, values in JSON (the provider's
 *  serialized code must not capture a YAML parser). */
function header(text: string, q: Report): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (!line.trim().startsWith("--")) break;
    const m = /^\s*--\s*@(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m;
    if (!HEADER_KEYS.includes(key)) {
      q(`unknown header line "-- @${key}" (known: ${HEADER_KEYS.map((k) => `@${k}`).join(", ")}), e.g. -- @params ["today", "tomorrow"]`);
      continue;
    }
    try {
      out[key] = JSON.parse(value);
    } catch (err) {
      q(`-- @${key} ${value}: not a JSON value (${(err as Error).message}); write e.g. -- @params ["2026-01-01", 42] or -- @maxPartitions 1`);
    }
  }
  return out;
}

function querySpec(e: Record<string, unknown>, source: string, t: Table, q: Report): QuerySpec | null {
  const name = typeof e.name === "string" && NAME.test(e.name) ? e.name : null;
  if (!name) q(`name ${describe(e.name)} must be 1-63 lower-case letters, digits, "_" or "-", e.g. "run-events-in-window"`);
  const sql = statement(e.sql, t, q);
  const params = paramValues(e.params, q);
  let maxPartitions = QUERY_DEFAULTS.maxPartitions;
  if (e.maxPartitions !== undefined && e.maxPartitions !== null) {
    const n = typeof e.maxPartitions === "string" && /^\d+$/.test(e.maxPartitions) ? Number(e.maxPartitions) : e.maxPartitions;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) q(`maxPartitions ${describe(e.maxPartitions)} must be a whole number ≥ 1: the most partitions the query may scan (default ${QUERY_DEFAULTS.maxPartitions})`);
    else maxPartitions = n;
  }
  let index = QUERY_DEFAULTS.index;
  if (e.index !== undefined && e.index !== null) {
    if (typeof e.index !== "boolean" && e.index !== "true" && e.index !== "false") q(`index ${describe(e.index)} must be true (every partition it reads must be read through an index) or false`);
    else index = e.index === true || e.index === "true";
  }
  if (!name || !sql || !params) return null;
  if (params.length !== sql.placeholders) {
    q(
      `it has ${sql.placeholders} placeholder(s) ($1…$n) and ${params.length} example parameter(s); give one value per placeholder, in order, as the application passes them` +
        (source.endsWith(".sql") ? ` (-- @params ["value1", "value2"])` : ` (params: [value1, value2])`),
    );
    return null;
  }
  return { name, source, sql: sql.text, params, maxPartitions, index };
}

/** The query's one statement without a trailing semicolon, and how many placeholders it has. */
function statement(raw: unknown, t: Table, q: Report): { text: string; placeholders: number } | null {
  if (typeof raw !== "string" || raw.trim() === "") {
    q(`sql is required: the query as the application sends it, with $1, $2… for its parameters`);
    return null;
  }
  const code = codeOf(raw);
  if (typeof code !== "string") {
    q(`sql ${code.problem}`);
    return null;
  }
  let text = raw;
  const last = code.trimEnd();
  if (last.endsWith(";")) text = raw.slice(0, last.length - 1) + raw.slice(last.length);
  const body = code.slice(0, last.endsWith(";") ? last.length - 1 : undefined);
  const first = /^[\s(]*([A-Za-z]+)/.exec(body)?.[1];
  let ok = true;
  if (body.includes(";")) {
    q(`sql holds more than one statement; declare each query on its own`);
    ok = false;
  } else if (!first || !STATEMENTS.test(first)) {
    q(`sql starts with ${first ? `"${first}"` : "nothing"}; a query must be one SELECT, WITH, UPDATE or DELETE statement (it is only planned, with EXPLAIN)`);
    ok = false;
  }
  if (!new RegExp(`(^|[^\\w$])"?${t.table}"?($|[^\\w$])`).test(body)) {
    q(`sql does not mention ${t.schema}.${t.table}; list the query under the table it reads`);
    ok = false;
  }
  const used = new Set([...body.matchAll(/(?<![\w$])\$(\d+)/g)].map((m) => Number(m[1])));
  const n = used.size ? Math.max(...used) : 0;
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((i) => !used.has(i));
  if (missing.length > 0) {
    q(`sql uses $${n} but not ${missing.map((i) => `$${i}`).join(", ")}; number the placeholders $1…$${used.size} without a hole (PostgreSQL cannot type an unused one)`);
    ok = false;
  }
  return ok ? { text: text.trim(), placeholders: n } : null;
}

/** `sql` with comments and the insides of string literals blanked out, position for position, so
 *  what is left is code (identifiers stay). */
function codeOf(sql: string): string | { problem: string } {
  const out = sql.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    const prevIdent = i > 0 && /[\w$]/.test(sql[i - 1]);
    if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const to = end < 0 ? sql.length : end;
      blank(i, to);
      i = to;
    } else if (c === "/" && sql[i + 1] === "*") {
      let depth = 0;
      let j = i;
      for (; j < sql.length; j++) {
        if (sql.startsWith("/*", j)) (depth++, j++);
        else if (sql.startsWith("*/", j) && --depth === 0) break;
      }
      if (j >= sql.length) return { problem: `has an unterminated /* comment` };
      blank(i, j + 2);
      i = j + 1;
    } else if (c === "'") {
      const backslashes = i > 0 && /[eE]/.test(sql[i - 1]) && !(i > 1 && /[\w$]/.test(sql[i - 2]));
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (backslashes && sql[j] === "\\") j++;
        else if (sql[j] === "'") {
          if (sql[j + 1] === "'") j++;
          else break;
        }
      }
      if (j >= sql.length) return { problem: `has an unterminated string` };
      blank(i + 1, j);
      i = j;
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      if (end < 0) return { problem: `has an unterminated quoted identifier` };
      i = end;
    } else if (c === "$" && !prevIdent && /^\$([A-Za-z_]\w*)?\$/.test(sql.slice(i))) {
      return { problem: `holds a dollar-quoted string; write it as a '…' string (or pass it as a parameter)` };
    }
  }
  return out.join("");
}

function paramValues(raw: unknown, q: Report): (string | null)[] | null {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    q(`params must be a list of example values, one per placeholder, e.g. ["6f1c…", "today", "tomorrow"], got ${describe(raw)}`);
    return null;
  }
  const out: (string | null)[] = [];
  raw.forEach((v, i) => {
    if (v === null || typeof v === "string") out.push(v);
    else if (typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) out.push(String(v));
    else if (v instanceof Date) out.push(v.toISOString());
    else q(`params[${i}] (for $${i + 1}) is ${describe(v)}: give a string, number, boolean or null; write an array or JSON as its PostgreSQL text, e.g. "{1,2,3}" or '{"a": 1}'`);
  });
  return out.length === raw.length ? out : null;
}
