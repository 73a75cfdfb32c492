// Integer-range partition sets (a bigint control column, partitions of N ids) against real
// PostgreSQL 15 with each pg_partman major: create_parent, premake ahead of the highest id as ids
// advance, retention measured from max(id) under partman-stack's lock-first maintenance, the
// data-loss guard, status, verify, archive and a live migration.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { versionAtLeast } from "../../infra/partman/version";
import { describe, expect, it } from "vitest";
import { archivePartitions } from "../../infra/archive/archive";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { formatStatus } from "../../infra/cli/format";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { MIGRATE_DEFAULTS, migrateRun, type MigrateOptions } from "../../infra/migrate/run";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { testDatabase } from "../helpers/test-database";
import { createLiveEvents, migrateUnderWrites } from "../helpers/live-table";
import { jobLog, specFor } from "../helpers/spec";

describe.each(PARTMAN_VERSIONS)(onServer("integer-range sets with pg_partman %s"), (version) => {
  const fx = testDatabase();

  const spec = (overrides: Record<string, unknown> = {}) => specFor(fx.db, [jobLog(overrides)], { partmanVersion: version });
  const children = async () =>
    (
      await fx.session.target.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'public.job_log'::regclass ORDER BY length(c.relname), c.relname`,
      )
    ).rows.map((r) => r.name);
  /** Log runs until the highest id is `upTo` (ids are GENERATED ALWAYS: 1, 2, …). */
  const logUpTo = (upTo: number) =>
    fx.session.target.query(
      `INSERT INTO public.job_log (job_name, status)
       SELECT 'nightly', 'succeeded' FROM generate_series(coalesce((SELECT max(id) FROM public.job_log), 0) + 1, $1)`,
      [upTo],
    );
  const maintain = () =>
    fx.session.target.query(`CALL partman_stack.run_maintenance(p_parent_table => 'public.job_log', p_lock_timeout => '50ms', p_max_lock_wait => '1 s')`);
  const lastRun = async () =>
    (await fx.session.target.query(`SELECT created, expired, deferred, deferred_reason, error FROM partman_stack.maintenance_runs WHERE parent_table = 'public.job_log' ORDER BY id DESC LIMIT 1`)).rows[0];
  const ids = (...starts: number[]) => starts.map((n) => `job_log_p${n}`);

  it(`pg_partman ${version}: registers an id interval, keeps premake partitions ahead of the highest id as ids advance; status and verify speak in ids, and verify --fix moves rows out of the default partition by id range`, async () => {
    const s = spec();
    const first = await planStack(fx.session, s);
    expect(first.problems).toEqual([]);
    const createParent = first.steps.find((x) => x.action === "create-parent")!;
    expect(createParent.sql.at(-1)).toContain(`p_control => 'id', ${version.startsWith("4.") ? "p_type => 'native', " : ""}p_interval => '1000', p_premake => 2`);
    expect(createParent.summary).toContain("1000 partitions on id, premake 2");
    const { result } = await applyStack(fx.session, s);
    expect(result).toMatchObject({ blocked: [], failed: [] });
    expect((await fx.session.target.query(`SELECT control, partition_interval, premake, retention FROM partman.part_config`)).rows).toEqual([
      { control: "id", partition_interval: "1000", premake: 2, retention: null },
    ]);
    // pg_partman names children by their first id.
    expect(await children()).toEqual([...ids(0, 1000, 2000), "job_log_default"]);
    expect((await planStack(fx.session, s)).steps).toEqual([]);

    // Ids advance: maintenance keeps 2 partitions' worth past the highest id.
    await logUpTo(2500);
    await maintain();
    expect(await lastRun()).toMatchObject({ created: ids(3000, 4000), error: null });
    expect(await children()).toEqual([...ids(0, 1000, 2000, 3000, 4000), "job_log_default"]);
    // Already far enough ahead: a run takes no lock and creates nothing.
    await maintain();
    expect(await lastRun()).toMatchObject({ created: [], expired: [], deferred: [] });

    const full = await status(fx.session, s);
    const report = full.tables[0];
    expect(report).toMatchObject({ state: "managed", kind: "id", maxId: 2500, interval: "1000", premake: 2, coveredUntil: "5000", partitionsAhead: 2, defaultRows: 0, retentionHorizon: null });
    expect(formatStatus(full)).toContain(`public.job_log: 1,000 ids per partition, premake 2, retention none (keep forever)\n  5 partition(s), `);
    expect(formatStatus(full)).toContain(`; 2 ahead of the highest id (2500), covered until 5000; default partition: 0 row(s)`);
    expect(report.partitions.slice(0, 3).map((p) => [p.name, p.from, p.to, p.rows])).toEqual([
      ["job_log_p0", "0", "1000", 999],
      ["job_log_p1000", "1000", "2000", 1000],
      ["job_log_p2000", "2000", "3000", 501],
    ]);

    const checks = (await verify(fx.session, s)).checks.filter((c) => c.table === "public.job_log");
    expect(Object.fromEntries(checks.map((c) => [c.check, c.status]))).toMatchObject({ table: "ok", config: "ok", premake: "ok", bounds: "ok", "default-partition": "ok", pruning: "ok" });
    expect(checks.find((c) => c.check === "premake")!.message).toBe(`partitions reach 5000, at least 2 × 1000 past the highest id (2500)`);
    expect(checks.find((c) => c.check === "pruning")!.message).toMatch(/^a query on id within \[2000, 3000\) scans only job_log_p2000;/);
    // Rows past every partition land in the default: verify counts them per id range, and --fix
    // moves them into partitions of their own (partition_data_id), the parent locked first, and
    // fills the gap before them.
    await fx.session.target.query(`INSERT INTO public.job_log (id, job_name, status) OVERRIDING SYSTEM VALUE VALUES (7200, 'late', 'failed'), (7300, 'late', 'failed'), (9100, 'late', 'failed')`);
    const dirty = (await verify(fx.session, s)).checks.find((c) => c.check === "default-partition")!;
    expect(dirty).toMatchObject({ status: "fail", message: `public.job_log_default holds 3 row(s), by 1000 range: 7000: 2, 9000: 1` });
    expect(dirty.fix).toContain(`"partman".partition_data_id(p_parent_table => 'public.job_log', p_batch_count => 1, p_analyze => false${versionAtLeast(version, "5.3.0") ? ", p_override_system_value => true" : ""})`);
    const fixed = await verify(fx.session, s, { fix: true });
    expect(fixed.checks.filter((c) => ["default-partition", "bounds"].includes(c.check)).map((c) => c.status)).toEqual(["ok", "ok"]);
    expect(await children()).toEqual([...ids(0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000), "job_log_default"]);
    expect((await fx.session.target.query(`SELECT tableoid::regclass::text AS t FROM public.job_log WHERE id = 9100`)).rows).toEqual([{ t: "public.job_log_p9000" }]);
    await fx.session.target.query(`DELETE FROM public.job_log WHERE job_name = 'late'`);

    // Partitions no longer far enough ahead of the ids fail the premake check.
    await fx.session.target.query(`UPDATE partman.part_config SET premake = 10`);
    const behind = (await verify(fx.session, s)).checks.find((c) => c.check === "premake")!;
    expect(behind).toMatchObject({ status: "fail", message: expect.stringContaining(`partitions reach only 10000; premake 10 needs them until 12500 (10 × 1000 past the highest id 2500;`) });
  });

  it(`pg_partman ${version}: the data-loss guard names the id ranges a retention would drop; acknowledged, maintenance expires exactly the partitions below max(id) - retention, parent locked first`, async () => {
    await applyStack(fx.session, spec());
    // As the hourly job would: partitions made ahead as the ids arrive, none land in the default.
    for (const upTo of [2000, 4000, 5500]) {
      await logUpTo(upTo);
      await maintain();
    }
    expect(await children()).toEqual([...ids(0, 1000, 2000, 3000, 4000, 5000, 6000, 7000), "job_log_default"]);

    // max(id) 5500, retention 2000: ids below 3500 go, so job_log_p0 … _p2000; _p3000 still holds 3500 … 3999.
    const refused = await planStack(fx.session, spec({ retention: 2000 }));
    expect(refused.problems).toHaveLength(1);
    expect(refused.problems[0].message).toMatch(
      /^table public\.job_log: retention \(none\) → "2000" makes maintenance DROP 3 partition\(s\) holding 2,999 rows, \d+ kB: job_log_p0 \[0 → 1000, \d+ kB, 999 rows\], job_log_p1000 \[1000 → 2000, \d+ kB, 1,000 rows\], job_log_p2000 \[2000 → 3000, \d+ kB, 1,000 rows\]; nothing is changed\. If that is intended, set allowDataLoss: true/,
    );
    expect((await applyStack(fx.session, spec({ retention: 2000 }))).result.blocked).toEqual(refused.problems);
    expect(await children()).toContain("job_log_p0");

    const acknowledged = spec({ retention: 2000, allowDataLoss: true });
    const p = await planStack(fx.session, acknowledged);
    expect(p.problems).toEqual([]);
    expect(p.steps.map((x) => x.action)).toEqual(["set-retention", "run-maintenance"]);
    expect(p.steps[0].dataLoss!.partitions.map((x) => x.name)).toEqual(ids(0, 1000, 2000));
    const { result } = await applyStack(fx.session, acknowledged);
    expect(result.maintenance[0]).toMatchObject({ notYetExpired: [], run: { expired: ids(0, 1000, 2000), error: null } });
    expect((await fx.session.target.query(`SELECT retention FROM partman_stack.retention`)).rows).toEqual([{ retention: "2000" }]);
    expect((await fx.session.target.query(`SELECT retention FROM partman.part_config`)).rows).toEqual([{ retention: null }]);
    expect((await fx.session.target.query(`SELECT min(id)::int AS min, count(*)::int AS n FROM public.job_log`)).rows).toEqual([{ min: 3000, n: 2501 }]);
    expect((await planStack(fx.session, acknowledged)).steps).toEqual([]);

    // Ids advance to 7600 (horizon 5600): the job's own command expires _p3000 and _p4000, but only
    // once it has the parent: while a report holds the table, the run defers and says who held it.
    await logUpTo(7600);
    const report = new Client({ connectionString: fx.db.url, application_name: "id report" });
    await report.connect();
    try {
      await report.query(`BEGIN; SELECT count(*) FROM public.job_log`);
      await new Promise((r) => setTimeout(r, 100));
      await maintain();
      // Both halves wait for the parent: the partitions ahead of 7600 and the expiry.
      expect(await lastRun()).toMatchObject({
        created: [],
        expired: [],
        deferred: ids(3000, 4000),
        deferred_reason: expect.stringMatching(/^creating partitions deferred: pid \d+ \(id report, .*; expiring deferred: pid \d+ \(id report, /),
      });
      const deferredStatus = (await status(fx.session, acknowledged)).tables[0];
      expect(deferredStatus.retentionHorizon).toBe("5600");
      expect(formatStatus(await status(fx.session, acknowledged))).toContain(`retention 2000 (partitions whose ids all lie below 5600 expire at the next maintenance run)`);
      expect(deferredStatus.lastMaintenance!.deferred).toEqual(ids(3000, 4000));
      expect((await verify(fx.session, acknowledged)).checks.find((c) => c.check === "retention")).toMatchObject({
        status: "warn",
        message: expect.stringMatching(/^2 partition\(s\) past the 2000 horizon: job_log_p3000, job_log_p4000, deferred by maintenance since /),
      });
    } finally {
      await report.query("ROLLBACK");
      await report.end();
    }
    await maintain();
    expect(await lastRun()).toMatchObject({ created: ids(8000, 9000), expired: ids(3000, 4000), deferred: [], error: null });
    expect((await fx.session.target.query(`SELECT min(id)::int AS min FROM public.job_log`)).rows).toEqual([{ min: 5000 }]);
    expect((await verify(fx.session, acknowledged)).checks.find((c) => c.check === "retention")).toMatchObject({ status: "ok", message: "no partition past the 2000 horizon" });
  });

  it(`pg_partman ${version}: archives an id partition past the horizon: dumped with its id range, verified, then dropped`, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-id-archive-"));
    try {
      await applyStack(fx.session, spec());
      await logUpTo(3500);
      await maintain();
      // Declared, not applied: archive takes the stack file's retention (max(id) 3500 − 2000 = 1500).
      const r = await archivePartitions(fx.session, spec({ retention: 2000 }), "job_log", { to: tmp });
      expect(r).toMatchObject({ retention: "2000", horizon: "1500", failed: 0 });
      expect(r.partitions.map((p) => [p.name, p.origin, p.from, p.to, p.rows, p.status])).toEqual([["job_log_p0", "past-horizon", "0", "1000", 999, "archived"]]);
      expect(fs.existsSync(path.join(tmp, "public.job_log_p0.dump"))).toBe(true);
      expect(await children()).not.toContain("job_log_p0");
      expect((await fx.session.target.query(`SELECT min(id)::int AS min FROM public.job_log`)).rows).toEqual([{ min: 1000 }]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it(`pg_partman ${version}: migrates a live table with concurrent writes onto an integer-range set on its id, losing none`, { timeout: 120_000 }, async () => {
    await fx.session.target.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${version}'`);
    await createLiveEvents(fx.db.url, 30_000);
    const migration = specFor(fx.db, [{ name: "public.events", control: "id", interval: 10_000, premake: 2 }], { partmanVersion: version });
    const quiet: MigrateOptions = { ...MIGRATE_DEFAULTS, batchSize: 5000, dryRun: false, log: () => {}, print: () => {} };
    const result = await migrateUnderWrites(fx.db.url, () => migrateRun(fx.session, migration, "public.events", quiet));
    expect(result.verification).toMatchObject({ ok: true, defaultRows: 0 });
    const parts = await fx.session.target.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.events'::regclass ORDER BY length(c.relname), c.relname`,
    );
    expect(parts.rows.map((r) => r.name).slice(0, 4)).toEqual(["events_p0", "events_p10000", "events_p20000", "events_p30000"]);
    expect((await fx.session.target.query(`SELECT partition_interval FROM partman.part_config WHERE parent_table = 'public.events'`)).rows).toEqual([{ partition_interval: "10000" }]);
  });
});
