// Issue 18, finding 3: a 63-byte table name passed validation, and on pg_partman 4.x with
// defaultPartition: false the plan's DROP TABLE "<table>_default" was truncated by PostgreSQL to the
// table's own name: an existing partitioned table and its rows were dropped while apply reported
// success. Now such a name is refused before anything changes, and 4.x's fresh default partition is
// dropped as the catalog names it, only while empty.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config/errors";
import { validateStack } from "../../infra/config/validate";
import { dropFreshDefaultSql } from "../../infra/partman/create";
import { partmanInstall } from "../../infra/partman/version";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { testDatabase } from "../helpers/test-database";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-long-names-"));
afterAll(() => fs.rmSync(root, { recursive: true }));

/** A stack of one daily set without a default partition, its DDL file written under `root`. */
function stack(db: { name: string }, table: string, version: string) {
  fs.mkdirSync(path.join(root, "sql"), { recursive: true });
  fs.writeFileSync(
    path.join(root, `sql/${table}.sql`),
    `CREATE TABLE public.${table} (id bigint NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);`,
  );
  return validateStack("test", root, {
    tables: [{ name: `public.${table}`, ddl: `sql/${table}.sql`, control: "created_at", interval: "1 day", premake: 2, defaultPartition: false }],
    maintenance: { jobName: `partman-${db.name}` },
    database: { mode: "external", host: "127.0.0.1", database: db.name, user: "postgres", sslmode: "disable", partmanVersion: version },
  });
}

describe.each(PARTMAN_VERSIONS)(onServer("derived names with pg_partman %s"), (version) => {
  const fx = testDatabase();
  const q = async (sql: string) => (await fx.session.target.query(sql)).rows;
  const children = async (table: string) =>
    (await q(`SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.${table}'::regclass ORDER BY 1`)) as { name: string; is_default: boolean }[];

  it(`pg_partman ${version}: refuses a 63-byte table name before anything changes, and the existing partitioned table of that name keeps its rows`, async () => {
    const table = `events_${"x".repeat(56)}`;
    await q(`CREATE TABLE public.${table} (id bigint NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    await q(`CREATE TABLE public.history_2001 PARTITION OF public.${table} FOR VALUES FROM ('2001-01-01') TO ('2001-01-02')`);
    await q(`INSERT INTO public.${table} VALUES (1, '2001-01-01 01:00Z'), (2, '2001-01-01 02:00Z'), (3, '2001-01-01 03:00Z')`);
    let refused: unknown = null;
    try {
      await applyStack(fx.session, stack(fx.db, table, version));
    } catch (err) {
      refused = err;
    }
    expect(await q(`SELECT count(*)::int AS n FROM public.${table}`)).toEqual([{ n: 3 }]);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual([
      `stack "test", table public.${table}: name "public.${table}": the longest name derived from it, pg_partman's template table template_public_${table}, is 79 bytes, more than PostgreSQL's 63 ` +
        `(NAMEDATALEN - 1: a longer name is truncated without an error, so SQL naming it would reach another table; checked against pg_partman ${version}, the stack's partmanVersion); declare a table name of at most 47 bytes`,
    ]);
    // Nothing ran: no extension, and the table as it was.
    expect(await q(`SELECT extname FROM pg_extension WHERE extname = 'pg_partman'`)).toEqual([]);
    expect(await children(table)).toEqual([{ name: "history_2001", is_default: false }]);
  });

  it(`pg_partman ${version}: a name that fits, declared without a default partition: 4.x's fresh default is dropped as the catalog names it, only while empty, and the parent survives`, async () => {
    const table = `events_${"x".repeat(40)}`;
    const spec = stack(fx.db, table, version);
    const p = await planStack(fx.session, spec);
    const drop = p.steps.find((s) => s.action === "drop-default");
    expect(drop !== undefined).toBe(version.startsWith("4."));
    if (drop) {
      expect(drop.sql[0]).toContain(`WHERE i.inhparent = '"public"."${table}"'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'`);
      expect(drop.sql[0]).not.toContain(`${table}_default`);
    }
    const { result } = await applyStack(fx.session, spec);
    expect(result).toMatchObject({ failed: [], blocked: [] });
    const parts = await children(table);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.filter((x) => x.is_default)).toEqual([]);
    expect((await planStack(fx.session, spec)).steps).toEqual([]);

    // The same SQL on a set whose default holds a row refuses, and drops nothing.
    const sql = dropFreshDefaultSql(partmanInstall(version, "partman"), spec.tables[0]);
    expect(sql !== null).toBe(version.startsWith("4."));
    if (sql) {
      await q(`CREATE TABLE public.${table}_default PARTITION OF public.${table} DEFAULT`);
      await q(`INSERT INTO public.${table} VALUES (1, '2001-01-01')`);
      await expect(fx.session.target.query(sql)).rejects.toThrow(`default partition public.${table}_default of public.${table} holds rows: not dropped`);
      expect((await children(table)).filter((x) => x.is_default)).toEqual([{ name: `${table}_default`, is_default: true }]);
      expect(await q(`SELECT count(*)::int AS n FROM public.${table}_default`)).toEqual([{ n: 1 }]);
    }
  });
});
