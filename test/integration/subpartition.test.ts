// Sub-partitioned sets (subpartition:) against real PostgreSQL 15 with each pg_partman major: ranges
// of tenant ids at the top, daily partitions inside each (sql/tables/tenant_audit.sql). create_parent
// then create_sub_parent, rows landing in sub-partitions, partman-stack's lock-first maintenance
// making new ranges with their days and expiring days per range, in-place changes of the
// sub-partitions' premake and retention, the data-loss guard, and the refusals that are migrations.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivePartitions } from "../../infra/archive/archive";
import { formatStatus } from "../../infra/cli/format";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { versionAtLeast } from "../../infra/partman/version";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { testDatabase } from "../helpers/test-database";
import { dailySuffix, specFor, tenantAudit } from "../helpers/spec";

describe.each(PARTMAN_VERSIONS)(onServer("sub-partitioned sets with pg_partman %s"), (version) => {
  const fx = testDatabase();

  const spec = (sub: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) =>
    specFor(fx.db, [tenantAudit({ subpartition: { control: "created_at", interval: "1 day", premake: 2, ...sub }, ...overrides })], { partmanVersion: version });
  const q = async (sql: string) => (await fx.session.target.query(sql)).rows;
  const children = async (parent: string) =>
    (await q(`SELECT c.relname AS name, c.relkind::text AS kind FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${parent}'::regclass ORDER BY c.relname`)) as { name: string; kind: string }[];
  /** A day's suffix, `offset` days from today. */
  const day = (offset: number) => dailySuffix(version, new Date(Date.now() + offset * 86_400_000));
  const maintain = () => q(`CALL partman_stack.run_maintenance(p_parent_table => 'public.tenant_audit', p_lock_timeout => '50ms', p_max_lock_wait => '1 s')`);

  it(`pg_partman ${version}: creates ranges of tenants each split by day; rows land in the day of their range; maintenance makes new ranges with their days and premakes days in each`, async () => {
    const s = spec();
    const first = await planStack(fx.session, s);
    expect(first.problems).toEqual([]);
    const sub = first.steps.find((x) => x.action === "create-sub-parent")!;
    expect(sub.summary).toBe("partition each partition of public.tenant_audit in turn: 1 day sub-partitions on created_at, premake 2");
    expect(sub.sql.at(-1)).toContain(
      version.startsWith("4.")
        ? `create_sub_parent(p_top_parent => 'public.tenant_audit', p_control => 'created_at', p_type => 'native', p_interval => '1 day', p_native_check => 'yes', p_premake => 2)`
        : `${versionAtLeast(version, "5.4.0") ? "create_sub_partition" : "create_sub_parent"}(p_top_parent => 'public.tenant_audit', p_control => 'created_at', p_type => 'range', p_interval => '1 day', p_declarative_check => 'yes', p_premake => 2)`,
    );
    const { result } = await applyStack(fx.session, s);
    expect(result).toMatchObject({ blocked: [], failed: [] });
    expect(await q(`SELECT sub_control, sub_partition_interval, sub_premake, sub_retention, sub_infinite_time_partitions FROM partman.part_config_sub`)).toEqual([
      { sub_control: "created_at", sub_partition_interval: "1 day", sub_premake: 2, sub_retention: null, sub_infinite_time_partitions: true },
    ]);
    const top = await children("public.tenant_audit");
    expect(top.filter((c) => c.kind === "p").map((c) => c.name)).toEqual(["tenant_audit_p0", "tenant_audit_p100"]);
    const days = (await children("public.tenant_audit_p0")).map((c) => c.name);
    for (const d of [-2, -1, 0, 1, 2]) expect(days).toContain(`tenant_audit_p0${day(d)}`);
    // Sub-parents are managed with their set: no undeclared-set warning, nothing left to do.
    const again = await planStack(fx.session, s);
    expect(again.warnings).toEqual([]);
    expect(again.steps).toEqual([]);

    await q(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (5, 'login'), (150, 'login')`);
    expect(await q(`SELECT tenant_id::int, tableoid::regclass::text AS t FROM public.tenant_audit ORDER BY tenant_id`)).toEqual([
      { tenant_id: 5, t: `public.tenant_audit_p0${day(0)}` },
      { tenant_id: 150, t: `public.tenant_audit_p100${day(0)}` },
    ]);

    // Tenant ids advance past the ranges: the job's maintenance makes the next range with its days.
    await q(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (199, 'login')`);
    await maintain();
    const after = (await children("public.tenant_audit")).filter((c) => c.kind === "p").map((c) => c.name);
    expect(after).toEqual(["tenant_audit_p0", "tenant_audit_p100", "tenant_audit_p200"]);
    expect((await verify(fx.session, s)).checks.find((c) => c.check === "pruning")).toMatchObject({ status: "ok", message: expect.stringMatching(/^a query on tenant_id within \[100, 200\) scans only tenant_audit_p100;/) });
    expect((await children("public.tenant_audit_p200")).map((c) => c.name)).toContain(`tenant_audit_p200${day(2)}`);
    await q(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (250, 'login')`);
    expect(await q(`SELECT tableoid::regclass::text AS t FROM public.tenant_audit WHERE tenant_id = 250`)).toEqual([{ t: `public.tenant_audit_p200${day(0)}` }]);
    const runs = await q(`SELECT parent_table, error FROM partman_stack.maintenance_runs ORDER BY id`);
    expect(runs.every((r) => r.error === null)).toBe(true);
    expect(runs.map((r) => r.parent_table)).toEqual(expect.arrayContaining(["public.tenant_audit", "public.tenant_audit_p0", "public.tenant_audit_p100"]));

    await maintain();
    // status nests each range's days under it; verify checks each range's days like a set.
    const report = (await status(fx.session, s)).tables[0];
    expect(report.partitions.filter((x) => !x.isDefault).map((x) => [x.name, x.from, x.to, x.rows])).toEqual([
      ["tenant_audit_p0", "0", "100", 1],
      ["tenant_audit_p100", "100", "200", 2],
      ["tenant_audit_p200", "200", "300", 1],
      ["tenant_audit_p300", "300", "400", 0],
    ]);
    expect(report.subpartitions.map((x) => [x.name, x.interval, x.premake])).toEqual([
      ["public.tenant_audit_p0", "1 day", 2],
      ["public.tenant_audit_p100", "1 day", 2],
      ["public.tenant_audit_p200", "1 day", 2],
      ["public.tenant_audit_p300", "1 day", 2],
    ]);
    expect(formatStatus(await status(fx.session, s))).toContain(`\n    public.tenant_audit_p100: 1 day partitions, premake 2, retention none (keep forever)\n`);
    const checks = (await verify(fx.session, s)).checks;
    const sub100 = checks.filter((c) => c.table === "public.tenant_audit_p100");
    expect(Object.fromEntries(sub100.map((c) => [c.check, c.status]))).toEqual({ premake: "ok", bounds: "ok", "last-run": "ok", "default-partition": "ok" });
    expect(checks.filter((c) => c.status !== "ok" && c.check !== "maintenance-job" && c.check !== "partman-version")).toEqual([]);
    // A sub-parent whose days fall behind fails the premake check, naming it.
    await q(`UPDATE partman.part_config SET premake = 10 WHERE parent_table = 'public.tenant_audit_p100'`);
    expect((await verify(fx.session, s)).checks.find((c) => c.table === "public.tenant_audit_p100" && c.check === "premake")).toMatchObject({ status: "fail" });

    // The job's own command (every set, sub-parents included) keeps each range's days ahead.
    await q(`DELETE FROM partman_stack.maintenance_runs`);
    await q(maintenanceCommand(s.maintenance));
    expect((await q(`SELECT parent_table, error FROM partman_stack.maintenance_runs ORDER BY parent_table`)).map((r) => [r.parent_table, r.error])).toEqual([
      ["public.tenant_audit", null],
      ["public.tenant_audit_p0", null],
      ["public.tenant_audit_p100", null],
      ["public.tenant_audit_p200", null],
      ["public.tenant_audit_p300", null],
    ]);
    expect((await children("public.tenant_audit_p100")).map((c) => c.name)).toContain(`tenant_audit_p100${day(10)}`);
    await q(`UPDATE partman.part_config SET premake = 2 WHERE parent_table = 'public.tenant_audit_p100'`);

    // The sub-partitions' premake changes in place: part_config_sub and every sub-parent's row.
    const more = spec({ premake: 3 });
    const p = await planStack(fx.session, more);
    expect(p.problems).toEqual([]);
    expect(p.steps.map((x) => x.action)).toEqual(["update-config", "run-maintenance"]);
    expect(p.steps[0].changes).toEqual([{ property: "subpartition.premake", from: 2, to: 3 }]);
    await applyStack(fx.session, more);
    expect(await q(`SELECT sub_premake FROM partman.part_config_sub`)).toEqual([{ sub_premake: 3 }]);
    expect(await q(`SELECT DISTINCT premake FROM partman.part_config WHERE parent_table LIKE 'public.tenant_audit_p%'`)).toEqual([{ premake: 3 }]);
    expect((await children("public.tenant_audit_p100")).map((c) => c.name)).toContain(`tenant_audit_p100${day(3)}`);
    expect((await planStack(fx.session, more)).steps).toEqual([]);
  });

  it(`pg_partman ${version}: a sub-partition retention is guarded like the set's, then expires days in every range, each sub-parent locked first; the set's retention drops whole ranges with their days`, async () => {
    await applyStack(fx.session, spec());
    await q(`INSERT INTO public.tenant_audit (tenant_id, action, created_at) VALUES (5, 'old', now() - interval '2 days'), (5, 'new', now()), (150, 'old', now() - interval '2 days')`);

    const refused = await planStack(fx.session, spec({ retention: "1 day" }));
    expect(refused.problems).toHaveLength(1);
    expect(refused.problems[0].message).toMatch(/^table public\.tenant_audit: subpartition\.retention \(none\) → "1 day" makes maintenance DROP \d+ partition\(s\) holding 2 rows/);
    expect(refused.problems[0].message).toContain(`tenant_audit_p0${day(-2)}`);
    expect(refused.problems[0].message).toContain(`tenant_audit_p100${day(-2)}`);

    const acknowledged = spec({ retention: "1 day" }, { allowDataLoss: true });
    const p = await planStack(fx.session, acknowledged);
    expect(p.problems).toEqual([]);
    expect(p.steps.map((x) => x.action)).toEqual(["set-retention", "run-maintenance"]);
    expect(p.steps[0].changes).toEqual([{ property: "subpartition.retention", from: null, to: "1 day" }]);
    await applyStack(fx.session, acknowledged);
    expect(await q(`SELECT parent_table, retention FROM partman_stack.sub_retention`)).toEqual([{ parent_table: "public.tenant_audit", retention: "1 day" }]);
    // pg_partman's own retention stays off: partman-stack expires, lock-first.
    expect(await q(`SELECT sub_retention FROM partman.part_config_sub`)).toEqual([{ sub_retention: null }]);
    expect(await q(`SELECT action FROM public.tenant_audit ORDER BY action`)).toEqual([{ action: "new" }]);
    expect((await children("public.tenant_audit_p0")).map((c) => c.name)).not.toContain(`tenant_audit_p0${day(-2)}`);
    expect((await planStack(fx.session, acknowledged)).steps).toEqual([]);

    // Top-level retention: ranges of ids below max(tenant_id) − 100 go with their days and their
    // part_config rows.
    await q(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (250, 'new')`);
    await maintain();
    // The job's own command expires days in every range, each range locked first: with the
    // horizon moved to now, yesterday goes too.
    await q(`UPDATE partman_stack.sub_retention SET retention = '1 second'`);
    await q(maintenanceCommand(acknowledged.maintenance));
    expect(await q(`SELECT expired, error FROM partman_stack.maintenance_runs WHERE parent_table = 'public.tenant_audit_p100' ORDER BY id DESC LIMIT 1`)).toEqual([
      { expired: [`tenant_audit_p100${day(-1)}`], error: null },
    ]);
    await q(`UPDATE partman_stack.sub_retention SET retention = '1 day'`);
    const top = spec({ retention: "1 day" }, { allowDataLoss: true, retention: 100 });
    await applyStack(fx.session, top);
    expect((await children("public.tenant_audit")).map((c) => c.name)).not.toContain("tenant_audit_p0");
    expect(await q(`SELECT count(*)::int AS n FROM partman.part_config WHERE parent_table = 'public.tenant_audit_p0'`)).toEqual([{ n: 0 }]);
    await maintain();
    expect((await q(`SELECT error FROM partman_stack.maintenance_runs WHERE error IS NOT NULL`))).toEqual([]);
  });

  it(`pg_partman ${version}: archives a whole range past the set's horizon as its sub-partitions, each dumped and verified before it is dropped; the other ranges keep every row`, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-sub-archive-range-"));
    try {
      await applyStack(fx.session, spec());
      await q(`INSERT INTO public.tenant_audit (tenant_id, action, created_at) VALUES (5, 'a', now()), (5, 'b', now() - interval '1 day'), (150, 'c', now())`);
      await maintain();
      await q(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (250, 'd')`);
      // Declared, not applied: ids below max(tenant_id) − 100 = 150, so range p0 alone is past it.
      const r = await archivePartitions(fx.session, spec({}, { retention: 100, allowDataLoss: true }), "tenant_audit", { to: tmp });
      expect(r.failed).toBe(0);
      expect(r.partitions.length).toBeGreaterThan(0);
      expect(r.partitions.filter((x) => !x.name.startsWith("tenant_audit_p0_"))).toEqual([]);
      expect(r.partitions.reduce((n, x) => n + (x.rows ?? 0), 0)).toBe(2);
      for (const x of r.partitions.filter((p) => (p.rows ?? 0) > 0)) {
        expect(x.status).toBe("archived");
        expect(fs.existsSync(path.join(tmp, `public.${x.name}.dump`))).toBe(true);
      }
      expect(await q(`SELECT action FROM public.tenant_audit ORDER BY action`)).toEqual([{ action: "c" }, { action: "d" }]);
      expect(await q(`SELECT count(*)::int AS n FROM public.tenant_audit_p0`)).toEqual([{ n: 0 }]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it(`pg_partman ${version}: verify names rows in a range's default sub-partition, and --fix moves them into days of their own with no row lost`, async () => {
    const s = spec();
    await applyStack(fx.session, s);
    await q(`INSERT INTO public.tenant_audit (tenant_id, action, created_at) VALUES (5, 'now', now()), (5, 'stray', now() - interval '20 days'), (5, 'stray', now() - interval '20 days')`);
    const dirty = (await verify(fx.session, s)).checks.filter((c) => c.check === "default-partition" && c.status !== "ok");
    expect(dirty).toEqual([expect.objectContaining({ status: "fail", message: expect.stringMatching(/tenant_audit_p0_default holds 2 row\(s\)/) })]);
    const fixed = await verify(fx.session, s, { fix: true });
    expect(fixed.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(await q(`SELECT count(*)::int AS n FROM public.tenant_audit_p0_default`)).toEqual([{ n: 0 }]);
    expect(await q(`SELECT action, tableoid::regclass::text AS t FROM public.tenant_audit WHERE action = 'stray'`)).toEqual([
      { action: "stray", t: `public.tenant_audit_p0${day(-20)}` },
      { action: "stray", t: `public.tenant_audit_p0${day(-20)}` },
    ]);
    expect(await q(`SELECT count(*)::int AS n FROM public.tenant_audit`)).toEqual([{ n: 3 }]);
  });

  it(`pg_partman ${version}: archives the sub-partitions past the sub-partitions' horizon from each range: dumped, verified, then detached from their sub-parent and dropped`, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-sub-archive-"));
    try {
      await applyStack(fx.session, spec());
      await q(`INSERT INTO public.tenant_audit (tenant_id, action, created_at) VALUES (5, 'old', now() - interval '2 days'), (5, 'new', now()), (150, 'old', now() - interval '2 days')`);
      // Declared, not applied: archive takes the stack file's sub-partition retention.
      const r = await archivePartitions(fx.session, spec({ retention: "1 day" }), "tenant_audit", { to: tmp });
      expect(r.failed).toBe(0);
      expect(r.partitions.map((x) => [x.name, x.rows, x.status])).toEqual([
        [`tenant_audit_p0${day(-2)}`, 1, "archived"],
        [`tenant_audit_p100${day(-2)}`, 1, "archived"],
      ]);
      expect(fs.existsSync(path.join(tmp, `public.tenant_audit_p0${day(-2)}.dump`))).toBe(true);
      expect(await q(`SELECT action FROM public.tenant_audit ORDER BY action`)).toEqual([{ action: "new" }]);
      expect((await children("public.tenant_audit_p0")).map((c) => c.name)).not.toContain(`tenant_audit_p0${day(-2)}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it(`pg_partman ${version}: adding sub-partitions to a set that holds rows, or removing or reshaping them, is refused as a migration; on an empty set they are added in place`, async () => {
    const plain = specFor(fx.db, [tenantAudit({ subpartition: undefined })], { partmanVersion: version });
    await applyStack(fx.session, plain);
    // Empty: create_sub_parent may recreate the partitions.
    const added = await planStack(fx.session, spec());
    expect(added.problems).toEqual([]);
    expect(added.steps.map((x) => x.action)).toEqual(["create-sub-parent", "update-config", "run-maintenance"]);
    expect(added.steps[0].sql[0]).toContain("lock_in_order_or_raise");

    await q(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (5, 'login')`);
    const refused = await planStack(fx.session, spec());
    expect(refused.problems.map((x) => x.message)).toEqual([
      expect.stringMatching(/^table public\.tenant_audit: adding subpartition to a set that holds rows \(~1\) is refused: pg_partman's create_sub_parent drops and recreates the set's partitions, so it needs a migration/),
    ]);
    expect((await applyStack(fx.session, spec())).result.blocked).toHaveLength(1);
    expect(await q(`SELECT count(*)::int AS n FROM public.tenant_audit`)).toEqual([{ n: 1 }]);

    await q(`TRUNCATE public.tenant_audit`);
    await applyStack(fx.session, spec());
    expect(await q(`SELECT sub_control FROM partman.part_config_sub`)).toEqual([{ sub_control: "created_at" }]);
    expect((await planStack(fx.session, plain)).problems[0].message).toMatch(/^table public\.tenant_audit: its partitions are sub-partitioned on created_at \(1 day\) but the entry declares no subpartition/);
    expect((await planStack(fx.session, spec({ interval: "1 hour" }))).problems[0].message).toMatch(/^table public\.tenant_audit: subpartition\.interval is 1 day, declared 1 hour; pg_partman cannot change it in place/);
  });
});
