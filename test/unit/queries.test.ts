// A table's hot queries, declared in its stack-file entry or as files under sql/queries: every
// mistake is refused before any SQL runs, naming the stack, the table, the query and the fix.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config/errors";
import { validateStack } from "../../infra/config/validate";
import { events, REPO_ROOT } from "../helpers/spec";

const WINDOW = "SELECT * FROM public.events WHERE run_id = $1 AND created_at >= $2 AND created_at < $3";

function problems(queries: unknown, root = REPO_ROOT): string[] {
  try {
    validateStack("prod", root, { tables: [events({ queries })] });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the stack to be rejected");
}

describe("queries: in a table entry", () => {
  it("reads a query with its defaults, values as text, and the repo's query files after it", () => {
    const spec = validateStack("prod", REPO_ROOT, {
      tables: [events({ queries: [{ name: "run-window", sql: `${WINDOW};\n-- the timeline`, params: ["0b7e4a52-3c1d-4f7a-9d55-2f4e8f1c6a10", "today", "tomorrow"] }, { name: "by-id", sql: "SELECT * FROM events WHERE id = $1 AND flag = $2 AND x = $3", params: [42, true, null], maxPartitions: 9, index: true }] })],
    });
    const [inline, byId, ...files] = spec.tables[0].queries;
    expect(inline).toEqual({ name: "run-window", source: "queries[0]", sql: `${WINDOW}\n-- the timeline`, params: ["0b7e4a52-3c1d-4f7a-9d55-2f4e8f1c6a10", "today", "tomorrow"], maxPartitions: 2, index: false });
    expect(byId).toMatchObject({ params: ["42", "true", null], maxPartitions: 9, index: true });
    expect(files.map((q) => [q.name, q.source, q.maxPartitions, q.index])).toEqual([
      ["agent-recent-events", "sql/queries/public.events/agent-recent-events.sql", 2, true],
      ["kind-counts-in-window", "sql/queries/public.events/kind-counts-in-window.sql", 1, false],
      ["run-events-in-window", "sql/queries/public.events/run-events-in-window.sql", 1, true],
    ]);
    expect(files[0].params).toEqual(["5d2f7c1e-8a34-4b6e-9f01-7c3a2b9d4e55", "1 hour"]);
    expect(files[2].sql).toMatch(/^-- One run's events[\s\S]*ORDER BY created_at$/);
  });

  it.each([
    ["a mapping", { name: "x" }, `stack "prod", table public.events: queries must be a list of {name, sql, params, maxPartitions, index}, got a mapping`],
    ["no sql", [{ name: "x" }], `stack "prod", table public.events: query "x" (queries[0]): sql is required: the query as the application sends it, with $1, $2… for its parameters`],
    ["a bad name", [{ name: "Run Window", sql: WINDOW, params: [1, 2, 3] }], `query "Run Window" (queries[0]): name "Run Window" must be 1-63 lower-case letters, digits, "_" or "-"`],
    ["two statements", [{ name: "x", sql: `${WINDOW}; DELETE FROM public.events`, params: [1, 2, 3] }], `query "x" (queries[0]): sql holds more than one statement; declare each query on its own`],
    ["an INSERT", [{ name: "x", sql: "INSERT INTO public.events (kind) VALUES ($1)", params: ["a"] }], `sql starts with "INSERT"; a query must be one SELECT, WITH, UPDATE or DELETE statement (it is only planned, with EXPLAIN)`],
    ["another table", [{ name: "x", sql: "SELECT * FROM public.audit_log WHERE actor = $1", params: ["a"] }], `query "x" (queries[0]): sql does not mention public.events; list the query under the table it reads`],
    ["too few params", [{ name: "x", sql: WINDOW, params: ["a", "today"] }], `query "x" (queries[0]): it has 3 placeholder(s) ($1…$n) and 2 example parameter(s); give one value per placeholder, in order, as the application passes them (params: [value1, value2])`],
    ["a hole", [{ name: "x", sql: "SELECT * FROM public.events WHERE created_at >= $1 AND created_at < $3", params: ["a", "b", "c"] }], `sql uses $3 but not $2; number the placeholders $1…$2 without a hole`],
    ["an object param", [{ name: "x", sql: "SELECT * FROM public.events WHERE payload @> $1", params: [{ a: 1 }] }], `params[0] (for $1) is a mapping: give a string, number, boolean or null; write an array or JSON as its PostgreSQL text`],
    ["maxPartitions 0", [{ name: "x", sql: WINDOW, params: [1, 2, 3], maxPartitions: 0 }], `maxPartitions 0 must be a whole number ≥ 1: the most partitions the query may scan (default 2)`],
    ["index yes", [{ name: "x", sql: WINDOW, params: [1, 2, 3], index: "yes" }], `index "yes" must be true (every partition it reads must be read through an index) or false`],
    ["an unknown key", [{ name: "x", sql: WINDOW, params: [1, 2, 3], maxPartition: 1 }], `query "x" (queries[0]): unknown key "maxPartition" (known: name, sql, params, maxPartitions, index)`],
    ["an unterminated string", [{ name: "x", sql: "SELECT * FROM public.events WHERE kind = 'a", params: [] }], `query "x" (queries[0]): sql has an unterminated string`],
    ["a dollar-quoted string", [{ name: "x", sql: "SELECT * FROM public.events WHERE kind = $q$a$q$", params: [] }], `sql holds a dollar-quoted string; write it as a '…' string (or pass it as a parameter)`],
    ["a name twice", [{ name: "x", sql: WINDOW, params: [1, 2, 3] }, { name: "x", sql: WINDOW, params: [1, 2, 3] }], `query "x" is declared twice (queries[0] and queries[1]); rename one`],
    ["a file's name", [{ name: "run-events-in-window", sql: WINDOW, params: [1, 2, 3] }], `query "run-events-in-window" is declared twice (queries[0] and sql/queries/public.events/run-events-in-window.sql); rename one`],
  ])("rejects %s", (_, queries, message) => {
    expect(problems(queries).join("\n")).toContain(message);
  });

  it("does not mistake text in strings, quoted names and comments for placeholders or statements", () => {
    const spec = validateStack("prod", REPO_ROOT, {
      tables: [events({ queries: [{ name: "x", sql: `SELECT 'a;$9', E'it\\'s;', "events".* /* $7; */ FROM "events" -- ; $8\n WHERE kind = $1`, params: ["k"] }] })],
    });
    expect(spec.tables[0].queries[0].params).toEqual(["k"]);
  });
});

describe("queries as files: sql/queries/<schema>.<table>/<name>.sql", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "partman-queries-"));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, "sql/tables"), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, "sql/tables/events.sql"), path.join(root, "sql/tables/events.sql"));
  const dir = path.join(root, "sql/queries/public.events");
  fs.mkdirSync(dir, { recursive: true });
  const write = (files: Record<string, string>) => {
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  };

  it("reads the header's parameters and bounds; other comment lines are prose", () => {
    write({ "run-window.sql": `-- The timeline.\n-- Note: one partition.\n-- @params ["0b7e4a52-3c1d-4f7a-9d55-2f4e8f1c6a10", "today", "tomorrow"]\n-- @maxPartitions 1\n-- @index true\n${WINDOW};\n`, "README.md": "not a query" });
    const [q] = validateStack("prod", root, { tables: [events()] }).tables[0].queries;
    expect(q).toMatchObject({ name: "run-window", source: "sql/queries/public.events/run-window.sql", params: ["0b7e4a52-3c1d-4f7a-9d55-2f4e8f1c6a10", "today", "tomorrow"], maxPartitions: 1, index: true });
    expect(q.sql.endsWith("created_at < $3")).toBe(true);
  });

  it("rejects an unknown header key, a header value that is not JSON, and a missing @params", () => {
    write({
      "a.sql": `-- @maxPartition 1\n-- @params [1, 2, 3]\n${WINDOW}`,
      "b.sql": `-- @params [today, tomorrow, 3]\n${WINDOW}`,
      "c.sql": WINDOW,
    });
    const found = problems(undefined, root).join("\n");
    expect(found).toContain(`stack "prod", table public.events: query "a" (sql/queries/public.events/a.sql): unknown header line "-- @maxPartition" (known: @params, @maxPartitions, @index), e.g. -- @params ["today", "tomorrow"]`);
    expect(found).toContain(`query "b" (sql/queries/public.events/b.sql): -- @params [today, tomorrow, 3]: not a JSON value (`);
    expect(found).toContain(`write e.g. -- @params ["2026-01-01", 42] or -- @maxPartitions 1`);
    expect(found).toContain(`query "c" (sql/queries/public.events/c.sql): it has 3 placeholder(s) ($1…$n) and 0 example parameter(s); give one value per placeholder, in order, as the application passes them (-- @params ["value1", "value2"])`);
  });
});
