// Time sets on a bigint holding epoch milliseconds (pg_partman's p_epoch) against real PostgreSQL
// 15 with each pg_partman major: create_parent, daily partitions named and bounded by time, premake
// ahead of now, retention from now() under partman-stack's lock-first maintenance, the data-loss
// guard, status, verify, archive and a live migration; and 4.x's refusal of microseconds.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivePartitions } from "../../infra/archive/archive";
import { formatStatus } from "../../infra/cli/format";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { MIGRATE_DEFAULTS, migrateRun } from "../../infra/migrate/run";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { DAY, dailySet } from "../helpers/daily-set";
import { createLiveEvents, migrateUnderWrites } from "../helpers/live-table";
import { sensorReadings, specFor } from "../helpers/spec";

describe.each(PARTMAN_VERSIONS)(onServer("epoch sets with pg_partman %s"), (version) => {
  const fx = dailySet(version, "sensor_readings");
  const { day, name, names, start, children } = fx;
  const spec = (overrides: Record<string, unknown> = {}) => specFor(fx.db, [sensorReadings(overrides)], { partmanVersion: version });
  /** One reading at noon of each day in [from, to], stamped in epoch milliseconds. */
  const readDays = (from: number, to: number) =>
    fx.session.target.query(
      `INSERT INTO public.sensor_readings (sensor_id, recorded_ms, value) SELECT 1, $1::bigint + d * ${DAY} + ${DAY / 2}, d FROM generate_series($2::int, $3::int) d`,
      [fx.today, from, to],
    );

  it(`pg_partman ${version}: registers an epoch-milliseconds set, names and bounds its partitions by day, keeps premake days ahead; status shows times and verify checks premake, UTC bounds, default rows and pruning on the integers`, async () => {
    const s = spec({ startPartition: start() });
    const first = await planStack(fx.session, s);
    expect(first.problems).toEqual([]);
    expect(first.steps.find((x) => x.action === "create-parent")!.sql.at(-1)).toContain(`p_interval => '1 day', p_epoch => 'milliseconds', p_premake => 3, p_start_partition => '${start()}'`);
    expect((await applyStack(fx.session, s)).result).toMatchObject({ blocked: [], failed: [] });
    expect((await fx.session.target.query(`SELECT control, partition_interval, epoch, premake FROM partman.part_config`)).rows).toEqual([
      { control: "recorded_ms", partition_interval: "1 day", epoch: "milliseconds", premake: 3 },
    ]);
    expect(await children()).toEqual([...names(-10, 3), "sensor_readings_default"].sort());
    // Bounds are the milliseconds of UTC midnights.
    expect((await fx.session.target.query(`SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE relname = $1`, [name(0)])).rows[0].b).toBe(
      `FOR VALUES FROM ('${fx.today}') TO ('${fx.today + DAY}')`,
    );
    expect((await planStack(fx.session, s)).steps).toEqual([]);
    await readDays(-10, 0);

    const full = await status(fx.session, s);
    const report = full.tables[0];
    expect(report).toMatchObject({ state: "managed", kind: "time", maxId: null, interval: "1 day", premake: 3, coveredUntil: day(4).toISOString(), partitionsAhead: 3, defaultRows: 0 });
    expect(report.partitions.find((p) => p.name === name(0))).toMatchObject({ from: day(0).toISOString(), to: day(1).toISOString(), rows: 1, rowsExact: true });
    expect(formatStatus(full)).toContain(`public.sensor_readings: 1 day partitions, premake 3`);

    const checks = async () => Object.fromEntries((await verify(fx.session, s)).checks.filter((c) => c.table === "public.sensor_readings").map((c) => [c.check, c]));
    const ok = await checks();
    expect(Object.fromEntries(Object.entries(ok).map(([k, c]) => [k, c.status]))).toMatchObject({ table: "ok", config: "ok", premake: "ok", bounds: "ok", "default-partition": "ok", pruning: "ok" });
    expect(ok.premake.message).toBe(`partitions reach ${day(4).toISOString()}, at least 3 × 1 day ahead`);
    expect(ok.bounds.message).toBe(`14 partition(s), contiguous, each on 1 day boundaries in UTC`);
    expect(ok.pruning.message).toMatch(new RegExp(`^a query on recorded_ms within \\[${day(0).toISOString()}, ${day(1).toISOString()}\\) scans only ${name(0)};`));

    // A reading past every partition lands in the default: verify counts it by day, and --fix
    // moves it into a partition of its own (partition_data_time reads the epoch) and fills the gap.
    await fx.session.target.query(`INSERT INTO public.sensor_readings VALUES (2, $1, 0)`, [fx.today + 6 * DAY + 1000]);
    const dirty = await checks();
    expect(dirty["default-partition"]).toMatchObject({ status: "fail", message: `public.sensor_readings_default holds 1 row(s), by 1 day range: ${day(6).toISOString()}: 1` });
    const fixed = await verify(fx.session, s, { fix: true });
    expect(fixed.checks.filter((c) => ["default-partition", "bounds"].includes(c.check)).map((c) => c.status)).toEqual(["ok", "ok"]);
    expect((await fx.session.target.query(`SELECT tableoid::regclass::text AS t FROM public.sensor_readings WHERE sensor_id = 2`)).rows).toEqual([{ t: `public.${name(6)}` }]);
    expect(await children()).toEqual([...names(-10, 6), "sensor_readings_default"].sort());
  });

  it(`pg_partman ${version}: the data-loss guard names the days a retention would drop; acknowledged, maintenance expires exactly the partitions ending before now() - retention, and the job's own command expires the next ones`, async () => {
    await applyStack(fx.session, spec({ startPartition: start() }));
    await readDays(-10, 0);

    // Horizon now() - 5 days: the days up to 6 days ago end before it; 5 days ago ends after it.
    const refused = await planStack(fx.session, spec({ startPartition: start(), retention: "5 days" }));
    expect(refused.problems).toHaveLength(1);
    expect(refused.problems[0].message).toContain(
      `table public.sensor_readings: retention (none) → "5 days" makes maintenance DROP 5 partition(s) holding 5 rows, `,
    );
    expect(refused.problems[0].message).toContain(`${name(-10)} [${day(-10).toISOString().slice(0, 10)} → ${day(-9).toISOString().slice(0, 10)}, `);
    expect(refused.problems[0].dataLoss!.partitions.map((p) => p.name)).toEqual(names(-10, -6));
    expect((await applyStack(fx.session, spec({ startPartition: start(), retention: "5 days" }))).result.blocked).toEqual(refused.problems);
    expect(await children()).toContain(name(-10));

    const acknowledged = spec({ startPartition: start(), retention: "5 days", allowDataLoss: true });
    const { result } = await applyStack(fx.session, acknowledged);
    expect(result.maintenance[0]).toMatchObject({ notYetExpired: [], run: { expired: names(-10, -6), error: null } });
    expect((await fx.session.target.query(`SELECT retention FROM partman_stack.retention`)).rows).toEqual([{ retention: "5 days" }]);
    expect((await fx.session.target.query(`SELECT min(recorded_ms)::bigint AS min FROM public.sensor_readings`)).rows).toEqual([{ min: String(fx.today - 5 * DAY + DAY / 2) }]);
    expect((await planStack(fx.session, acknowledged)).steps).toEqual([]);
    expect((await status(fx.session, acknowledged)).tables[0].retentionHorizon).toMatch(new RegExp(`^${day(-5).toISOString().slice(0, 10)}T`));

    // Retention shortened to 3 days where the job reads it, then the pg_cron job's own command runs.
    await fx.session.target.query(`UPDATE partman_stack.retention SET retention = '3 days'`);
    const admin = await fx.db.admin();
    try {
      const job = (await admin.query<{ command: string }>(`SELECT command FROM cron.job WHERE database = $1`, [fx.db.name])).rows[0];
      expect(job.command).toMatch(/^CALL partman_stack\.run_maintenance\(/);
      await fx.session.target.query(job.command);
    } finally {
      await admin.end();
    }
    expect(
      (await fx.session.target.query(`SELECT expired, deferred, error FROM partman_stack.maintenance_runs WHERE parent_table = 'public.sensor_readings' ORDER BY id DESC LIMIT 1`)).rows[0],
    ).toEqual({ expired: names(-5, -4), deferred: [], error: null });
    expect((await children()).filter((c) => c !== "sensor_readings_default")).toEqual(names(-3, 3));
  });

  it(`pg_partman ${version}: archives the one epoch partition past the horizon: dumped, verified, then dropped`, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-epoch-archive-"));
    try {
      await applyStack(fx.session, spec({ startPartition: start() }));
      await readDays(-10, 0);
      // Declared, not applied: archive takes the stack file's retention; only the oldest day ends before now() - 9 days.
      const r = await archivePartitions(fx.session, spec({ startPartition: start(), retention: "9 days" }), "sensor_readings", { to: tmp });
      expect(r).toMatchObject({ retention: "9 days", failed: 0 });
      expect(r.partitions.map((p) => [p.name, p.origin, p.from, p.to, p.rows, p.status])).toEqual([[name(-10), "past-horizon", day(-10).toISOString(), day(-9).toISOString(), 1, "archived"]]);
      expect(fs.existsSync(path.join(tmp, `public.${name(-10)}.dump`))).toBe(true);
      expect(await children()).not.toContain(name(-10));
      expect((await fx.session.target.query(`SELECT count(*)::int AS n FROM public.sensor_readings`)).rows).toEqual([{ n: 10 }]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it(`pg_partman ${version}: migrates a live table with concurrent writes onto an epoch set on its milliseconds, partitions from its oldest row's day, losing none`, { timeout: 120_000 }, async () => {
    await fx.session.target.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${version}'`);
    // Rows stamped over the last 20 days; the writer's inserts are stamped now.
    await createLiveEvents(fx.db.url, 20_000, "bigint", { createdMs: true });
    const oldest = (await fx.session.target.query<{ ms: string }>(`SELECT min(created_ms)::text AS ms FROM public.events`)).rows[0].ms;
    const first = Number(oldest) - (Number(oldest) % DAY);
    const migration = specFor(fx.db, [{ name: "public.events", control: "created_ms", epoch: "milliseconds", interval: "1 day", premake: 2 }], { partmanVersion: version });
    const quiet = { ...MIGRATE_DEFAULTS, batchSize: 5000, dryRun: false, log: () => {}, print: () => {} };
    const result = await migrateUnderWrites(fx.db.url, () => migrateRun(fx.session, migration, "public.events", quiet));
    expect(result.verification).toMatchObject({ ok: true, defaultRows: 0 });
    expect((await fx.session.target.query(`SELECT count(*)::int AS n FROM public.events e JOIN public.expected x USING (id) WHERE e.created_ms <> x.created_ms`)).rows).toEqual([{ n: 0 }]);
    expect((await fx.session.target.query(`SELECT control, partition_interval, epoch FROM partman.part_config WHERE parent_table = 'public.events'`)).rows).toEqual([
      { control: "created_ms", partition_interval: "1 day", epoch: "milliseconds" },
    ]);
    // The first partition is the oldest row's UTC day, bounded by its milliseconds.
    const bounds = await fx.session.target.query<{ b: string }>(
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS b FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.events'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' ORDER BY c.relname LIMIT 1`,
    );
    expect(bounds.rows[0].b).toBe(`FOR VALUES FROM ('${first}') TO ('${first + DAY}')`);
    expect((await fx.session.target.query(`SELECT count(*)::int AS n FROM public.events_default`)).rows).toEqual([{ n: 0 }]);
  });

  it(`pg_partman ${version}: epoch microseconds ${version.startsWith("4.") ? "is refused before any change, naming the version needed" : "partitions by the microseconds of each day"}`, async () => {
    if (version.startsWith("4.")) {
      const needs = (source: string) =>
        `table public.sensor_readings: epoch microseconds needs pg_partman 5.0 or later (${source}: ${version}, which knows seconds, milliseconds and nanoseconds); upgrade pg_partman, or store another unit`;
      // Declared in the stack: refused as the stack is read. Installed: refused by plan.
      expect(() => spec({ epoch: "microseconds" })).toThrow(needs("partmanVersion"));
      await fx.session.target.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${version}'`);
      const p = await planStack(fx.session, specFor(fx.db, [sensorReadings({ epoch: "microseconds" })]));
      expect(p.problems.map((x) => x.message)).toEqual([needs("installed")]);
      expect(p.steps.filter((x) => x.table === "public.sensor_readings")).toEqual([]);
      return;
    }
    const s = spec({ epoch: "microseconds" });
    const p = await planStack(fx.session, s);
    expect(p.problems).toEqual([]);
    await applyStack(fx.session, s);
    expect((await fx.session.target.query(`SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE relname = $1`, [name(0)])).rows[0].b).toBe(
      `FOR VALUES FROM ('${fx.today}000') TO ('${fx.today + DAY}000')`,
    );
    expect((await status(fx.session, s)).tables[0]).toMatchObject({ kind: "time", coveredUntil: day(4).toISOString() });
  });
});
