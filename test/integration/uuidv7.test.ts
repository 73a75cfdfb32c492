// Time sets on a uuid column holding UUIDv7 keys (pg_partman 5.2's uuid7_time_encoder/decoder)
// against real PostgreSQL 15 with each pg_partman major: create_parent, daily partitions bounded by
// the keys of UTC midnights, premake ahead of now, status in times, retention from now() through the
// job's own command, the data-loss guard, verify (and --fix moving keys out of the default), archive
// and a live migration; and the refusals before 5.2.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivePartitions } from "../../infra/archive/archive";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { versionAtLeast } from "../../infra/partman/version";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { MigrationRefused } from "../../infra/migrate/migration";
import { MIGRATE_DEFAULTS, migrateRun, type MigrateOptions } from "../../infra/migrate/run";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { DAY, dailySet } from "../helpers/daily-set";
import { createLiveEvents, migrateUnderWrites } from "../helpers/live-table";
import { specFor, userEvents } from "../helpers/spec";

/** A UUIDv7 for millisecond `ms` (48 bits of time, version 7, variant, then `n` for uniqueness). */
function uuid7(ms: number, n = 0): string {
  const t = ms.toString(16).padStart(12, "0");
  return `${t.slice(0, 8)}-${t.slice(8)}-7000-8000-${n.toString(16).padStart(12, "0")}`;
}
/** The key pg_partman's uuid7_time_encoder makes of a time: a partition bound. */
const bound = (ms: number) => uuid7(ms).replace("-7000-8000-", "-0000-0000-");

describe.each(PARTMAN_VERSIONS)(onServer("UUIDv7 sets with pg_partman %s"), (version) => {
  const supported = !version.startsWith("4.") && !/^5\.[01]\./.test(version);
  // As pg_partman is given and stores the codec's names: 5.5+ quotes them itself, earlier releases take them quoted.
  const codecSchema = versionAtLeast(version, "5.5.0") ? "partman" : `"partman"`;
  const fx = dailySet(version, "user_events");
  const { day, name, names, start, children } = fx;
  const spec = (overrides: Record<string, unknown> = {}) => specFor(fx.db, [userEvents(overrides)], { partmanVersion: version });
  /** One event at noon of each day in [from, to], keyed by its UUIDv7. */
  const eventDays = (from: number, to: number) =>
    fx.session.target.query(`INSERT INTO public.user_events (id, user_id, kind) SELECT id, 1, 'click' FROM unnest($1::uuid[]) id`, [
      Array.from({ length: to - from + 1 }, (_, i) => uuid7(fx.today + (from + i) * DAY + DAY / 2, i + 1)),
    ]);

  it.runIf(supported)(
    `pg_partman ${version}: registers a UUIDv7 set with pg_partman's encoder and decoder, bounds its partitions by the keys of UTC midnights, keeps premake days ahead; status shows times and verify checks premake, bounds, default rows (by decoded day, moved out by --fix under the set's locks) and pruning on uuid keys`,
    async () => {
      const s = spec({ startPartition: start() });
      const first = await planStack(fx.session, s);
      expect(first.problems).toEqual([]);
      expect(first.steps.find((x) => x.action === "create-parent")!.sql.at(-1)).toContain(
        `p_interval => '1 day', p_time_encoder => '${codecSchema}.uuid7_time_encoder', p_time_decoder => '${codecSchema}.uuid7_time_decoder', p_premake => 3`,
      );
      expect((await applyStack(fx.session, s)).result).toMatchObject({ blocked: [], failed: [] });
      expect(await children()).toEqual([...names(-10, 3), "user_events_default"].sort());
      expect((await fx.session.target.query(`SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE relname = $1`, [name(0)])).rows[0].b).toBe(
        `FOR VALUES FROM ('${bound(fx.today)}') TO ('${bound(fx.today + DAY)}')`,
      );
      expect((await planStack(fx.session, s)).steps).toEqual([]);
      await eventDays(-10, 0);

      const report = (await status(fx.session, s)).tables[0];
      expect(report).toMatchObject({ state: "managed", kind: "time", interval: "1 day", premake: 3, coveredUntil: day(4).toISOString(), partitionsAhead: 3, defaultRows: 0 });
      expect(report.partitions.find((p) => p.name === name(0))).toMatchObject({ from: day(0).toISOString(), to: day(1).toISOString(), rows: 1 });

      const checks = async () => Object.fromEntries((await verify(fx.session, s)).checks.filter((c) => c.table === "public.user_events").map((c) => [c.check, c]));
      const ok = await checks();
      expect(Object.fromEntries(Object.entries(ok).map(([k, c]) => [k, c.status]))).toMatchObject({ table: "ok", config: "ok", premake: "ok", bounds: "ok", "default-partition": "ok", pruning: "ok" });
      expect(ok.bounds.message).toBe(`14 partition(s), contiguous, each on 1 day boundaries in UTC`);
      expect(ok.pruning.message).toMatch(new RegExp(`^a query on id within \\[${day(0).toISOString()}, ${day(1).toISOString()}\\) scans only ${name(0)};`));

      // Keys past every partition land in the default: verify groups them by their decoded day. 5.2's
      // partition_data_time refuses uuid columns, so --fix moves them itself, the set locked first:
      // each day's rows into a partition of its own, then the gap before them filled.
      await fx.session.target.query(`INSERT INTO public.user_events (id, user_id, kind) SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[])`, [
        [uuid7(fx.today + 6 * DAY + 1000, 97), uuid7(fx.today + 6 * DAY + 2000, 98), uuid7(fx.today + 8 * DAY + 1000, 99)],
        [2, 2, 3],
        ["late", "late", "later"],
      ]);
      const dirty = (await checks())["default-partition"];
      expect(dirty).toMatchObject({ status: "fail", message: `public.user_events_default holds 3 row(s), by 1 day range: ${day(6).toISOString()}: 2, ${day(8).toISOString()}: 1` });
      expect(dirty.fix).toContain(`partman-stack verify --fix (per range above: its rows out of public.user_events_default, "partman".create_partition_time for it, the rows back in`);
      const fixed = await verify(fx.session, s, { fix: true });
      expect(fixed.checks.filter((c) => c.table === "public.user_events" && ["default-partition", "bounds"].includes(c.check)).map((c) => c.status)).toEqual(["ok", "ok"]);
      expect((await fx.session.target.query(`SELECT user_id, tableoid::regclass::text AS t FROM public.user_events WHERE user_id > 1 ORDER BY id`)).rows).toEqual([
        { user_id: "2", t: `public.${name(6)}` },
        { user_id: "2", t: `public.${name(6)}` },
        { user_id: "3", t: `public.${name(8)}` },
      ]);
      expect(await children()).toEqual([...names(-10, 8), "user_events_default"].sort());
    },
  );

  it.runIf(supported)(
    `pg_partman ${version}: the data-loss guard names the days a retention would drop; acknowledged, maintenance expires exactly the partitions ending before now() - retention, and the job's own command expires the next ones`,
    async () => {
      await applyStack(fx.session, spec({ startPartition: start() }));
      await eventDays(-10, 0);

      const refused = await planStack(fx.session, spec({ startPartition: start(), retention: "5 days" }));
      expect(refused.problems).toHaveLength(1);
      expect(refused.problems[0].message).toContain(`table public.user_events: retention (none) → "5 days" makes maintenance DROP 5 partition(s) holding 5 rows, `);
      expect(refused.problems[0].message).toContain(`${name(-10)} [${day(-10).toISOString().slice(0, 10)} → ${day(-9).toISOString().slice(0, 10)}, `);
      expect(refused.problems[0].dataLoss!.partitions.map((p) => p.name)).toEqual(names(-10, -6));
      expect(await children()).toContain(name(-10));

      const acknowledged = spec({ startPartition: start(), retention: "5 days", allowDataLoss: true });
      const { result } = await applyStack(fx.session, acknowledged);
      expect(result.maintenance[0]).toMatchObject({ notYetExpired: [], run: { expired: names(-10, -6), error: null } });
      expect((await planStack(fx.session, acknowledged)).steps).toEqual([]);

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
        (await fx.session.target.query(`SELECT expired, deferred, error FROM partman_stack.maintenance_runs WHERE parent_table = 'public.user_events' ORDER BY id DESC LIMIT 1`)).rows[0],
      ).toEqual({ expired: names(-5, -4), deferred: [], error: null });
      expect((await children()).filter((c) => c !== "user_events_default")).toEqual(names(-3, 3));
    },
  );

  it.runIf(supported)(`pg_partman ${version}: archives the one UUIDv7 partition past the horizon: dumped, verified, then dropped`, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-uuidv7-archive-"));
    try {
      await applyStack(fx.session, spec({ startPartition: start() }));
      await eventDays(-10, 0);
      const r = await archivePartitions(fx.session, spec({ startPartition: start(), retention: "9 days" }), "user_events", { to: tmp });
      expect(r).toMatchObject({ retention: "9 days", failed: 0 });
      expect(r.partitions.map((p) => [p.name, p.origin, p.from, p.to, p.rows, p.status])).toEqual([[name(-10), "past-horizon", day(-10).toISOString(), day(-9).toISOString(), 1, "archived"]]);
      expect(await children()).not.toContain(name(-10));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.runIf(supported)(`pg_partman ${version}: a changed time encoder or decoder, or uuidv7 switched off, is a problem plan cannot fix in place, and apply leaves the set alone`, async () => {
    await applyStack(fx.session, spec());
    const problems = async (overrides: Record<string, unknown>) => (await planStack(fx.session, spec(overrides))).problems.map((x) => x.message);
    const why = `the keys already written and the partitions' bounds are in the set's encoding, so changing how a set reads its control column needs a migration to a new table (or declare uuidv7: true)`;
    const live = `${codecSchema}.uuid7_time_encoder/${codecSchema}.uuid7_time_decoder`;
    expect(await problems({ uuidv7: undefined, timeEncoder: "app.key_from_time", timeDecoder: "app.time_from_key" })).toEqual([
      `table public.user_events: pg_partman's time encoder/decoder is ${live}, declared app.key_from_time/app.time_from_key; ${why}`,
    ]);
    // With its DDL file the validator refuses a uuid key without uuidv7; without one, plan must.
    const off = { ddl: undefined, uuidv7: false };
    expect(await problems(off)).toEqual([`table public.user_events: pg_partman's time encoder/decoder is ${live}, declared none; ${why}`]);
    const blocked = await applyStack(fx.session, spec(off));
    expect(blocked.result.blocked.map((x) => x.message)).toEqual(await problems(off));
    expect((await fx.session.target.query(`SELECT time_encoder, time_decoder FROM partman.part_config`)).rows).toEqual([{ time_encoder: `${codecSchema}.uuid7_time_encoder`, time_decoder: `${codecSchema}.uuid7_time_decoder` }]);
    expect(await problems({})).toEqual([]);
  });

  const quiet: MigrateOptions = { ...MIGRATE_DEFAULTS, batchSize: 5000, dryRun: false, log: () => {}, print: () => {} };
  /** With the version declared in the stack, or (false) left to the installed extension. */
  const migration = (declared = true) =>
    specFor(fx.db, [{ name: "public.events", control: "id", uuidv7: true, interval: "1 day", premake: 2 }], declared ? { partmanVersion: version } : {});
  const needs = (table: string, source: string) =>
    `table ${table}: uuidv7 (UUIDv7 keys) needs pg_partman 5.2 or later (${source}: ${version}, which partitions only time and integer columns); upgrade pg_partman, or partition by a timestamptz column`;
  const installPartman = () => fx.session.target.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${version}'`);

  it.runIf(supported)(`pg_partman ${version}: migrates a live table with concurrent writes onto a UUIDv7 set on its key, partitions from its oldest key's day, losing none`, { timeout: 120_000 }, async () => {
    await fx.session.target.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${version}'`);
    // Keys made from created_at over the last 20 days; the writer's inserts are keyed now.
    await createLiveEvents(fx.db.url, 20_000, "uuidv7");
    const oldest = (await fx.session.target.query<{ t: Date }>(`SELECT min(created_at) AS t FROM public.events`)).rows[0].t.getTime();
    const first = oldest - (oldest % DAY);
    const result = await migrateUnderWrites(fx.db.url, () => migrateRun(fx.session, migration(), "public.events", quiet));
    expect(result.verification).toMatchObject({ ok: true, defaultRows: 0 });
    expect((await fx.session.target.query(`SELECT control, partition_interval, time_decoder FROM partman.part_config WHERE parent_table = 'public.events'`)).rows).toEqual([
      { control: "id", partition_interval: "1 day", time_decoder: `${codecSchema}.uuid7_time_decoder` },
    ]);
    const bounds = await fx.session.target.query<{ b: string }>(
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS b FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.events'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' ORDER BY c.relname LIMIT 1`,
    );
    expect(bounds.rows[0].b).toBe(`FOR VALUES FROM ('${bound(first)}') TO ('${bound(first + DAY)}')`);
    expect((await fx.session.target.query(`SELECT count(*)::int AS n FROM public.events_default`)).rows).toEqual([{ n: 0 }]);
  });

  it.runIf(!supported)(`pg_partman ${version}: migrating a live table onto a UUIDv7 set is refused before anything changes, naming the version needed`, async () => {
    await createLiveEvents(fx.db.url, 100, "uuidv7");
    expect(() => migration()).toThrow(needs("public.events", "partmanVersion"));
    await installPartman();
    const refused = await migrateRun(fx.session, migration(false), "public.events", quiet).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(MigrationRefused);
    expect((refused as MigrationRefused).problems).toEqual([needs("public.events", "installed")]);
    expect((await fx.session.target.query(`SELECT to_regnamespace('partman_migrate') AS s`)).rows).toEqual([{ s: null }]);
    expect((await fx.session.target.query(`SELECT relkind::text AS k FROM pg_class WHERE oid = 'public.events'::regclass`)).rows).toEqual([{ k: "r" }]);
  });

  it.runIf(!supported)(`pg_partman ${version}: a UUIDv7 set is refused before any change, naming the version needed`, async () => {
    // Declared in the stack: refused as the stack is read. Installed: refused by plan and apply.
    expect(() => spec()).toThrow(needs("public.user_events", "partmanVersion"));
    await installPartman();
    const installed = specFor(fx.db, [userEvents()]);
    const p = await planStack(fx.session, installed);
    expect(p.problems.map((x) => x.message)).toEqual([needs("public.user_events", "installed")]);
    expect(p.steps.filter((x) => x.table === "public.user_events")).toEqual([]);
    expect((await applyStack(fx.session, installed)).result.blocked.map((x) => x.message)).toEqual(p.problems.map((x) => x.message));
    expect((await fx.session.target.query(`SELECT to_regclass('public.user_events') AS t`)).rows).toEqual([{ t: null }]);
  });
});
