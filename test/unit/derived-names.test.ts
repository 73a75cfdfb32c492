// The 63-byte rule on every name derived from a declared table's (infra/config/derived-names.ts):
// partitions of each shape per pg_partman major, the default partition, pg_partman's template
// table, sub-partitions and a migration's objects, refused in validation before any SQL.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { migrationNameProblem } from "../../infra/config/derived-names";
import { ConfigError } from "../../infra/config/errors";
import { validateStack, validateTableEntry } from "../../infra/config/validate";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-names-"));
afterAll(() => fs.rmSync(root, { recursive: true }));

/** A table name of exactly `bytes` bytes. */
const named = (bytes: number) => `t${"x".repeat(bytes - 1)}`;

type Shape = "time" | "epoch" | "bigint" | "integer" | "smallint" | "list";
const COLUMN: Record<Shape, string> = { time: "timestamptz", epoch: "bigint", bigint: "bigint", integer: "integer", smallint: "smallint", list: "integer" };

/** A table entry of that shape, its DDL file written under `root`: control column k, a time column at. */
function entry(schema: string, table: string, shape: Shape, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const by = shape === "list" ? "LIST" : "RANGE";
  const ddl = `sql/${schema}.${table}.sql`;
  fs.mkdirSync(path.join(root, "sql"), { recursive: true });
  fs.writeFileSync(
    path.join(root, ddl),
    `CREATE TABLE ${schema}.${table} (k ${COLUMN[shape]} NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (k, at)) PARTITION BY ${by} (k);`,
  );
  const interval = shape === "time" || shape === "epoch" ? "1 day" : shape === "list" ? 1 : 100;
  return { name: `${schema}.${table}`, ddl, control: "k", interval, ...(shape === "epoch" ? { epoch: "milliseconds" } : {}), ...(shape === "list" ? { type: "list" } : {}), ...overrides };
}

/** The problems of a stack of that one table (empty when it is accepted). */
function check(table: Record<string, unknown>, partmanVersion?: string): string[] {
  try {
    validateStack("prod", root, { tables: [table], database: { mode: "local", ...(partmanVersion ? { partmanVersion } : {}) } });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const refusal = (table: string, what: string, name: string, bytes: number, fits: number, checked: string) =>
  `stack "prod", table s.${table}: name "s.${table}": the longest name derived from it, ${what} ${name}, is ${bytes} bytes, more than PostgreSQL's 63 ` +
  `(NAMEDATALEN - 1: a longer name is truncated without an error, so SQL naming it would reach another table; checked against ${checked}); declare a table name of at most ${fits} bytes`;
const V4 = "pg_partman 4.7.2, the stack's partmanVersion";
const V5 = "pg_partman 5.2.4, the stack's partmanVersion";
const BOTH = "pg_partman 4.x and 5.x: the stack declares no partmanVersion";

// Schema "s": pg_partman's template table (template_s_<table>, 11 bytes more) is then shorter than
// most partition names, so each shape's suffix is what decides.
describe("names derived from a declared table fit in 63 bytes", () => {
  it("time, daily: 4.x names partitions _p2026_07_01 (12 bytes more), 5.x _p20260701 (10): refused by the major declared, or by the longer", () => {
    const t = named(52);
    expect(check(entry("s", t, "time"), "5.2.4")).toEqual([]);
    expect(check(entry("s", t, "time"), "4.7.2")).toEqual([refusal(t, "pg_partman 4.x's partition", `${t}_p2026_07_01`, 64, 51, V4)]);
    expect(check(entry("s", t, "time"))).toEqual([refusal(t, "pg_partman 4.x's partition", `${t}_p2026_07_01`, 64, 51, BOTH)]);
    expect(check(entry("s", named(51), "time"))).toEqual([]);
  });

  it("time, weekly: 4.x names weeks as days (_p2026_07_01), since partman-stack passes \"1 week\", not \"weekly\"", () => {
    const t = named(52);
    expect(check(entry("s", t, "time", { interval: "1 week" }), "4.7.2")).toEqual([refusal(t, "pg_partman 4.x's partition", `${t}_p2026_07_01`, 64, 51, V4)]);
  });

  it("time, monthly: 4.x's _p2026_07 and 5.x's _p20260701 are shorter than pg_partman's template table, which decides", () => {
    expect(check(entry("s", named(52), "time", { interval: "1 month" }))).toEqual([]);
    const t = named(53);
    expect(check(entry("s", t, "time", { interval: "1 month" }), "4.7.2")).toEqual([refusal(t, "pg_partman's template table", `template_s_${t}`, 64, 52, V4)]);
  });

  it("time, hourly: _p2026_07_01_0000 (4.x) and _p20260701_000000 (5.x), 17 bytes more; the fix offered includes a daily interval", () => {
    const t = named(47);
    const [found] = check(entry("s", t, "time", { interval: "1 hour" }), "5.2.4");
    expect(found).toBe(`${refusal(t, "pg_partman 5.x's partition", `${t}_p20260701_000000`, 64, 46, V5)}, or interval of at least 1 day (partitions then take a shorter, daily suffix)`);
    expect(check(entry("s", t, "time", { interval: "1 hour" }), "4.7.2")[0]).toContain(`pg_partman 4.x's partition ${t}_p2026_07_01_0000, is 64 bytes`);
    expect(check(entry("s", named(46), "time", { interval: "1 hour" }))).toEqual([]);
  });

  it("time, below a minute: 4.x adds the seconds (_p2026_07_01_000000, 19 bytes more), 5.x's stays 17", () => {
    const t = named(45);
    expect(check(entry("s", t, "time", { interval: "30 seconds" }), "4.7.2")[0]).toContain(`pg_partman 4.x's partition ${t}_p2026_07_01_000000, is 64 bytes`);
    expect(check(entry("s", t, "time", { interval: "30 seconds" }), "5.2.4")).toEqual([]);
  });

  it("epoch times: named by day as a time set", () => {
    const t = named(52);
    expect(check(entry("s", t, "epoch"), "4.7.2")).toEqual([refusal(t, "pg_partman 4.x's partition", `${t}_p2026_07_01`, 64, 51, V4)]);
    expect(check(entry("s", t, "epoch"), "5.2.4")).toEqual([]);
  });

  it("ids: _p and the largest first id the control column's type reaches (bigint 19 digits, integer 10, smallint 5)", () => {
    const t = named(43);
    expect(check(entry("s", t, "bigint", { interval: 100000 }))).toEqual([refusal(t, "pg_partman 4.x's partition", `${t}_p9223372036854700000`, 64, 42, BOTH)]);
    expect(check(entry("s", named(42), "bigint", { interval: 100000 }))).toEqual([]);
    const i = named(52);
    expect(check(entry("s", i, "integer"), "5.2.4")).toEqual([refusal(i, "pg_partman 5.x's partition", `${i}_p2147483600`, 64, 51, V5)]);
    expect(check(entry("s", named(52), "smallint"))).toEqual([]);
  });

  it("a list set: _p and the column type's largest value", () => {
    const t = named(52);
    expect(check(entry("s", t, "list"), "5.2.4")).toEqual([refusal(t, "pg_partman 5.x's partition", `${t}_p2147483647`, 64, 51, V5)]);
  });

  it("sub-partitions: the sub-parent's name (the partition's) and the sub-partition's suffix, per major", () => {
    const days = { subpartition: { control: "at", interval: "1 day" } };
    const t = named(42);
    expect(check(entry("s", t, "integer", days), "5.2.4")).toEqual([refusal(t, "pg_partman 5.x's sub-partition", `${t}_p2147483600_p20260701`, 64, 41, V5)]);
    const u = named(40);
    expect(check(entry("s", u, "integer", days), "5.2.4")).toEqual([]);
    expect(check(entry("s", u, "integer", days), "4.7.2")).toEqual([refusal(u, "pg_partman 4.x's sub-partition", `${u}_p2147483600_p2026_07_01`, 64, 39, V4)]);
    const m = named(44);
    expect(check(entry("s", m, "time", { interval: "1 month", subpartition: { control: "at", interval: "1 day" } }))).toEqual([
      refusal(m, "pg_partman 4.x's sub-partition", `${m}_p2026_07_p2026_07_01`, 65, 42, BOTH),
    ]);
  });

  it("each sub-parent's default partition: <partition>_default, longer than a smallint sub-partition's _p32700", () => {
    const t = named(46);
    fs.writeFileSync(path.join(root, "sql/sub.sql"), `CREATE TABLE s.${t} (at timestamptz NOT NULL, n smallint NOT NULL, PRIMARY KEY (at, n)) PARTITION BY RANGE (at);`);
    const table = { name: `s.${t}`, ddl: "sql/sub.sql", control: "at", interval: "1 month", subpartition: { control: "n", interval: 100 } };
    expect(check(table, "5.2.4")).toEqual([refusal(t, "pg_partman 5.x's default partition of a sub-parent", `${t}_p20260701_default`, 64, 45, V5)]);
  });

  it("pg_partman's template table (and the default partition): the finding's 63-byte name in public, whose 4.x DROP TABLE <table>_default PostgreSQL truncated to the table itself, is refused naming the longest, template_public_<table>", () => {
    const t = named(63);
    const [found] = check({ ...entry("public", t, "time"), defaultPartition: false }, "4.7.2");
    expect(found).toContain(`name "public.${t}": the longest name derived from it, pg_partman's template table template_public_${t}, is 79 bytes, more than PostgreSQL's 63`);
    expect(found).toContain(`declare a table name of at most 47 bytes`);
    expect(check(entry("public", named(47), "time"))).toEqual([]);
  });

  it("a Pulumi resource's entry is refused the same way, under its name key", () => {
    const t = named(63);
    const e = entry("public", t, "time");
    const { table, problems } = validateTableEntry("prod", e, fs.readFileSync(path.join(root, e.ddl as string), "utf8"));
    expect(table).toBeNull();
    expect(problems).toEqual([{ key: "name", message: expect.stringContaining(`template_public_${t}, is 79 bytes`) }]);
  });

  it("a migration's objects: its helpers (_capture_reverse, 16 bytes more) and its copy's template table (template_partman_migrate_, 25 more)", () => {
    const t = named(39);
    expect(migrationNameProblem({ name: `public.${t}`, table: t })).toBe(
      `name "public.${t}": the longest name derived from it, pg_partman's template table of the migration's copy template_partman_migrate_${t}, is 64 bytes, more than PostgreSQL's 63 ` +
        `(NAMEDATALEN - 1: a longer name is truncated without an error, so SQL naming it would reach another table; needed by migrate); declare a table name of at most 38 bytes`,
    );
    expect(migrationNameProblem({ name: `public.${named(38)}`, table: named(38) })).toBeNull();
  });
});
