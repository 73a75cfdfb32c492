// The engine against real PostgreSQL 15 with each pg_partman major: plan, apply, idempotency,
// drift, retention, conflicts and the maintenance job.

import { Client } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import type { Session } from "../../infra/db/session";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { auditLog, dailySuffix, events, sessionFor, specFor } from "../helpers/spec";

const DAY = 86_400_000;
const isoDate = (d: Date) => d.toISOString().slice(0, 10);

describe.each(PARTMAN_VERSIONS)(onServer("engine with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let session: Session;
  const cronDb = () => session.on("postgres");

  beforeEach(async () => {
    db = await createTestDatabase({ partman: null });
    session = await sessionFor(db);
  });

  afterEach(async () => {
    await (await cronDb()).query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await session.close();
    await db.drop();
  });

  const children = async (table: string, schema = "public") =>
    (
      await session.target.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [`${schema}.${table}`],
      )
    ).rows.map((r) => r.name);

  const partConfig = async (table: string) =>
    (await session.target.query(`SELECT * FROM partman.part_config WHERE parent_table = $1`, [table])).rows[0];

  it(`pg_partman ${version}: creates the extension, tables, partition sets and job, and a second plan is empty`, async () => {
    const spec = specFor(db, [events({ retention: "7 days" }), auditLog()], { partmanVersion: version });
    const first = await planStack(session, spec);
    expect(first.problems).toEqual([]);
    expect(first.steps.map((s) => `${s.unit}: ${s.action}`)).toEqual([
      "extensions: create-extension",
      "partman-stack objects: install-objects",
      "table public.events: create-table",
      "table public.events: create-parent",
      "table public.events: update-config",
      "table public.events: set-retention",
      "table public.events: run-maintenance",
      "table public.audit_log: create-table",
      "table public.audit_log: create-parent",
      "table public.audit_log: update-config",
      "table public.audit_log: run-maintenance",
      "maintenance job: schedule-job",
    ]);
    const createParent = first.steps.find((s) => s.action === "create-parent")!.sql[0];
    expect(createParent.includes("p_type => 'native'")).toBe(version.startsWith("4."));

    const { result } = await applyStack(session, spec);
    expect(result.applied.map((u) => `${u.unit} in ${u.database}`)).toEqual([
      `extensions in ${db.name}`,
      `partman-stack objects in ${db.name}`,
      `table public.events in ${db.name}`,
      `table public.audit_log in ${db.name}`,
      "maintenance job in postgres",
    ]);
    // Each table's maintenance ran after its changes committed, and created its partitions ahead.
    expect(result.maintenance.map((m) => [m.table, m.run?.error, m.notYetExpired])).toEqual([
      ["public.events", null, []],
      ["public.audit_log", null, []],
    ]);
    expect(result).toMatchObject({ blocked: [], failed: [] });

    const again = await planStack(session, spec);
    expect(again.steps).toEqual([]);
    expect(again.problems).toEqual([]);

    const ext = await session.target.query(`SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'`);
    expect(ext.rows[0].extversion).toBe(version);
    // pg_partman's own retention stays off: partman-stack keeps the declared one and expires itself.
    expect(await partConfig("public.events")).toMatchObject({
      control: "created_at",
      partition_interval: "1 day",
      premake: 4,
      retention: null,
      infinite_time_partitions: true,
      automatic_maintenance: "on",
    });
    expect((await session.target.query(`SELECT parent_table, retention, keep_table, retention_schema FROM partman_stack.retention`)).rows).toEqual([
      { parent_table: "public.events", retention: "7 days", keep_table: false, retention_schema: null },
    ]);
    expect(await partConfig("public.audit_log")).toMatchObject({ retention: null, premake: 2, infinite_time_partitions: true });
    const names = await children("events");
    expect(names).toContain(`events${dailySuffix(version, new Date())}`);
    expect(names).toContain("events_default");

    const report = await status(session, spec);
    const ev = report.tables.find((t) => t.name === "public.events")!;
    expect(ev.state).toBe("managed");
    expect(ev.partitionsAhead).toBeGreaterThanOrEqual(4);
    expect(ev.defaultRows).toBe(0);
    expect(report.job).toMatchObject({ schedule: "0 * * * *", database: db.name, active: true, lastRun: null });

    const job = await (await cronDb()).query(`SELECT schedule, command, database, active FROM cron.job WHERE jobname = $1`, [`partman-${db.name}`]);
    expect(job.rows).toEqual([
      { schedule: "0 * * * *", command: `CALL partman_stack.run_maintenance(p_analyze => false, p_lock_timeout => '200ms', p_max_lock_wait => '1 min')`, database: db.name, active: true },
    ]);
  });

  it(`pg_partman ${version}: shows a hand edit of part_config and of the retention as exactly that change back, and applying it restores sync`, async () => {
    const spec = specFor(db, [events({ retention: "7 days" })], { partmanVersion: version });
    await applyStack(session, spec);
    // pg_partman's own retention switched on by hand would have pg_partman drop without partman-stack's locking.
    await session.target.query(`UPDATE partman.part_config SET retention = '1 day', premake = 9 WHERE parent_table = 'public.events'`);
    await session.target.query(`UPDATE partman_stack.retention SET retention = '30 days' WHERE parent_table = 'public.events'`);
    await (await cronDb()).query(`SELECT cron.alter_job(jobid, schedule => '5 * * * *') FROM cron.job WHERE jobname = $1`, [`partman-${db.name}`]);

    const drift = await planStack(session, spec);
    expect(drift.steps.map((s) => s.action)).toEqual(["update-config", "set-retention", "run-maintenance", "alter-job"]);
    expect(drift.steps[0].changes).toEqual([
      { property: "premake", from: 9, to: 4 },
      { property: "part_config.retention", from: "1 day", to: null },
    ]);
    expect(drift.steps[1].changes).toEqual([{ property: "retention", from: "30 days", to: "7 days" }]);
    expect(drift.steps[3].changes).toEqual([{ property: "schedule", from: "5 * * * *", to: "0 * * * *" }]);

    await applyStack(session, spec);
    expect((await planStack(session, spec)).steps).toEqual([]);
    expect(await partConfig("public.events")).toMatchObject({ retention: null, premake: 4 });
  });

  it(`pg_partman ${version}: moves a retention pg_partman applies itself (set by an earlier partman-stack, or by hand) into partman_stack.retention`, async () => {
    const spec = specFor(db, [events({ retention: "7 days" })], { partmanVersion: version });
    await applyStack(session, spec);
    await session.target.query(`DELETE FROM partman_stack.retention; UPDATE partman.part_config SET retention = '7 days', retention_keep_table = false WHERE parent_table = 'public.events'`);
    const p = await planStack(session, spec);
    expect(p.problems).toEqual([]);
    expect(p.steps.map((s) => [s.action, s.summary])).toEqual([
      ["update-config", `set part_config.retention "7 days" → (none)`],
      ["set-retention", `move retention "7 days" from pg_partman's part_config to partman_stack.retention (partman-stack expires partitions itself)`],
      ["run-maintenance", expect.any(String)],
    ]);
    await applyStack(session, spec);
    expect((await planStack(session, spec)).steps).toEqual([]);
    expect(await partConfig("public.events")).toMatchObject({ retention: null, retention_keep_table: true });
  });

  it(`pg_partman ${version}: treats an equal interval written differently as no change`, async () => {
    await applyStack(session, specFor(db, [events({ retention: "14 days" })], { partmanVersion: version }));
    const same = specFor(db, [events({ retention: "2 weeks" })], { partmanVersion: version });
    expect((await planStack(session, same)).steps).toEqual([]);
  });

  describe("retention", () => {
    const today = () => new Date(Math.floor(Date.now() / DAY) * DAY);
    const seed = async () => {
      // One row at the start of each day from 20 days back to tomorrow.
      await session.target.query(
        `INSERT INTO public.events (run_id, kind, created_at)
         SELECT gen_random_uuid(), 'seed', d
           FROM generate_series(date_trunc('day', now()) - interval '20 days', date_trunc('day', now()) + interval '1 day', interval '1 day') d`,
      );
    };
    const history = () => events({ startPartition: isoDate(new Date(today().getTime() - 20 * DAY)), premake: 2 });
    const expectedExpired = (version: string) =>
      Array.from({ length: 10 }, (_, i) => `events${dailySuffix(version, new Date(today().getTime() - (20 - i) * DAY))}`);

    it(`pg_partman ${version}: drops exactly the partitions past the horizon when retention is set, and keeps the rest with their rows`, async () => {
      await applyStack(session, specFor(db, [history()], { partmanVersion: version }));
      await seed();
      const before = await children("events");
      expect(before).toEqual(expect.arrayContaining(expectedExpired(version)));

      // Without acknowledgement: refused, naming exactly those partitions, and nothing changes.
      const unacknowledged = specFor(db, [{ ...history(), retention: "10 days" }], { partmanVersion: version });
      const refused = await planStack(session, unacknowledged);
      expect(refused.steps.filter((s) => s.table === "public.events")).toEqual([]);
      expect(refused.problems).toHaveLength(1);
      expect(refused.problems[0].message).toMatch(/^table public\.events: retention \(none\) → "10 days" makes maintenance DROP 10 partition\(s\) holding 10 rows, /);
      // Small partitions are counted, not estimated: one seeded row each.
      expect(refused.problems[0].message.match(/, \d+ kB, 1 rows\]/g)).toHaveLength(10);
      for (const name of expectedExpired(version)) expect(refused.problems[0].message).toContain(`${name} [`);
      expect(refused.problems[0].message).toContain("set allowDataLoss: true on this table's entry");
      const blocked = (await applyStack(session, unacknowledged)).result;
      expect(blocked).toMatchObject({ applied: [], failed: [], blocked: [{ unit: "table public.events", message: refused.problems[0].message }] });
      expect(await children("events")).toEqual(before);
      expect((await partConfig("public.events")).retention).toBeNull();

      const shrink = specFor(db, [{ ...history(), retention: "10 days", allowDataLoss: true }], { partmanVersion: version });
      const p = await planStack(session, shrink);
      expect(p.steps.map((s) => s.action)).toEqual(["set-retention", "run-maintenance"]);
      expect(p.steps[0].changes).toEqual([{ property: "retention", from: null, to: "10 days" }]);
      expect(p.steps[0].dataLoss!.partitions.map((x) => x.name)).toEqual(expectedExpired(version));
      expect(p.warnings).toEqual([expect.stringMatching(/acknowledged with allowDataLoss: this apply's maintenance run drops them$/)]);
      await applyStack(session, shrink);

      // 5.x also counts premake from the newest row (the seed's tomorrow), so it may add one ahead.
      const after = await children("events");
      expect(after.filter((n) => before.includes(n))).toEqual(before.filter((n) => !expectedExpired(version).includes(n)));
      // Growing retention drops nothing and needs no acknowledgement.
      const grow = await planStack(session, specFor(db, [{ ...history(), retention: "15 days" }], { partmanVersion: version }));
      expect(grow.problems).toEqual([]);
      expect(grow.steps.map((s) => s.action)).toEqual(["set-retention", "run-maintenance"]);
      const rows = await session.target.query(`SELECT min(created_at) AS oldest, count(*)::int AS n FROM public.events`);
      expect(rows.rows[0].n).toBe(12); // days -10 … +1
      expect((rows.rows[0].oldest as Date).getTime()).toBe(today().getTime() - 10 * DAY);
      const dropped = await session.target.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = ANY($1)`, [expectedExpired(version)]);
      expect(dropped.rows[0].n).toBe(0);
    });

    it(`pg_partman ${version}: moves expired partitions to retentionSchema with their rows instead of dropping them`, async () => {
      await applyStack(session, specFor(db, [history()], { partmanVersion: version }));
      await seed();
      const archive = specFor(db, [{ ...history(), retention: "10 days", retentionSchema: "archive" }], { partmanVersion: version });
      const p = await planStack(session, archive);
      expect(p.steps.map((s) => s.action)).toEqual(["create-schema", "set-retention", "run-maintenance"]);
      await applyStack(session, archive);

      const moved = await session.target.query<{ relname: string; n: number }>(
        `SELECT c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM archive.%I', c.relname), false, true, '')))[1]::text::int AS n
           FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
          WHERE s.nspname = 'archive' AND c.relkind = 'r' ORDER BY 1`,
      );
      expect(moved.rows.map((r) => r.relname)).toEqual(expectedExpired(version));
      expect(moved.rows.every((r) => r.n === 1)).toBe(true);
      const live = await session.target.query(`SELECT count(*)::int AS n FROM public.events`);
      expect(live.rows[0].n).toBe(12);
      expect((await planStack(session, archive)).steps).toEqual([]);
    });
  });

  describe("refuses what needs a migration, and changes nothing", () => {
    it(`pg_partman ${version}: an existing table that is not partitioned: that table only, the others apply`, async () => {
      await session.target.query(`CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL)`);
      const spec = specFor(db, [events(), auditLog()], { partmanVersion: version });
      const p = await planStack(session, spec);
      expect(p.problems).toEqual([{ unit: "table public.events", table: "public.events", message: expect.stringMatching(/public\.events exists but is not partitioned; it needs migrating/) }]);
      const { result } = await applyStack(session, spec);
      expect(result.blocked).toEqual(p.problems);
      expect(result.failed).toEqual([]);
      expect([...new Set(result.applied.map((u) => u.unit))]).toEqual(["extensions", "partman-stack objects", "table public.audit_log", "maintenance job"]);
      expect(await partConfig("public.audit_log")).toMatchObject({ partition_interval: "1 mon" });
      const kind = await session.target.query(`SELECT relkind::text FROM pg_class WHERE oid = 'public.events'::regclass`);
      expect(kind.rows).toEqual([{ relkind: "r" }]);
      expect(await partConfig("public.events")).toBeUndefined();
    });

    it(`pg_partman ${version}: a changed interval`, async () => {
      await applyStack(session, specFor(db, [events()], { partmanVersion: version }));
      const spec = specFor(db, [events({ interval: "1 week", premake: 7 })], { partmanVersion: version });
      const p = await planStack(session, spec);
      expect(p.problems).toEqual([{ unit: "table public.events", table: "public.events", message: expect.stringMatching(/partition interval is 1 day, declared 1 week.*needs a migration/) }]);
      expect(p.steps).toEqual([]);
      expect((await applyStack(session, spec)).result).toMatchObject({ applied: [], blocked: p.problems });
      expect(await partConfig("public.events")).toMatchObject({ partition_interval: "1 day", premake: 4 });
    });

    it(`pg_partman ${version}: a table partitioned on another column`, async () => {
      await session.target.query(`CREATE TABLE public.events (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (id)`);
      const p = await planStack(session, specFor(db, [events()], { partmanVersion: version }));
      expect(p.problems).toEqual([{ unit: "table public.events", table: "public.events", message: expect.stringMatching(/partitioned by RANGE \(id\) but is declared as RANGE \(created_at\)/) }]);
    });

    it(`pg_partman ${version}: a job name another database's stack already uses`, async () => {
      await (await cronDb()).query(`SELECT cron.schedule_in_database($1, '0 * * * *', 'SELECT 1', 'postgres')`, [`partman-${db.name}`]);
      try {
        const p = await planStack(session, specFor(db, [events()], { partmanVersion: version }));
        expect(p.problems).toEqual([
          { unit: "maintenance job", message: expect.stringMatching(/^pg_cron job name partman-\w+ is also used by jobid \d+ \(user postgres, database postgres\): .* give this stack its own maintenance\.jobName/) },
        ]);
      } finally {
        await (await cronDb()).query(`SELECT cron.unschedule($1::text)`, [`partman-${db.name}`]);
      }
    });
  });

  it(`pg_partman ${version}: never drops a table that left the config`, async () => {
    await applyStack(session, specFor(db, [events(), auditLog()], { partmanVersion: version }));
    const fewer = specFor(db, [events()], { partmanVersion: version });
    const p = await planStack(session, fewer);
    expect(p.steps).toEqual([]);
    expect(p.warnings).toEqual([expect.stringMatching(/^table public\.audit_log is registered with pg_partman but not declared in stack test: partman-stack no longer manages it/)]);
    await applyStack(session, fewer);
    expect(await children("audit_log")).toContain("audit_log_default");
    expect(await partConfig("public.audit_log")).toBeDefined();
  });

  it(`pg_partman ${version}: creates no default partition when defaultPartition is false`, async () => {
    const spec = specFor(db, [events({ defaultPartition: false })], { partmanVersion: version });
    const p = await planStack(session, spec);
    expect(p.steps.some((s) => s.action === "drop-default")).toBe(version.startsWith("4."));
    await applyStack(session, spec);
    expect(await children("events")).not.toContain("events_default");
    expect((await planStack(session, spec)).steps).toEqual([]);
  });

  it(`pg_partman ${version}: attaches a default partition to a live set only with its lock taken first, within maxLockWait, naming who held it`, async () => {
    await applyStack(session, specFor(db, [events({ defaultPartition: false })], { partmanVersion: version }));
    const spec = specFor(db, [events()], { partmanVersion: version, maintenance: { maxLockWait: "1 s" } });
    const p = await planStack(session, spec);
    expect(p.steps.filter((s) => s.table).map((s) => [s.action, s.sql[0]])).toEqual([
      ["create-default", `SELECT partman_stack.lock_in_order_or_raise(ARRAY['"public"."events"']::regclass[], '200ms', '1 s', 'ACCESS EXCLUSIVE');`],
    ]);
    const reader = new Client({ connectionString: db.url, application_name: "nightly report" });
    await reader.connect();
    try {
      await reader.query(`BEGIN; SELECT count(*) FROM public.events`);
      const { result } = await applyStack(session, spec);
      expect(result.failed).toEqual([
        expect.objectContaining({ unit: "table public.events", message: expect.stringMatching(/could not lock public\.events in ACCESS EXCLUSIVE mode within 00:00:01 \(\d+ attempt\(s\)\): held by pid \d+ \(nightly report, user postgres from 127\.0\.0\.1, idle in transaction, in a transaction for 00:00:0\d, connected since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/) }),
      ]);
      await reader.query(`ROLLBACK`);
      expect((await applyStack(session, spec)).result).toMatchObject({ failed: [], blocked: [] });
      expect(await children("events")).toContain("events_default");
    } finally {
      await reader.end();
    }
  });

  it(`pg_partman ${version}: alters the job's schedule and unschedules it when maintenance is disabled`, async () => {
    await applyStack(session, specFor(db, [events()], { partmanVersion: version }));
    const every15 = specFor(db, [events()], { partmanVersion: version, maintenance: { schedule: "*/15 * * * *", analyze: true } });
    const p = await planStack(session, every15);
    expect(p.steps.map((s) => s.action)).toEqual(["alter-job"]);
    expect(p.steps[0].changes).toEqual([
      { property: "schedule", from: "0 * * * *", to: "*/15 * * * *" },
      {
        property: "command",
        from: `CALL partman_stack.run_maintenance(p_analyze => false, p_lock_timeout => '200ms', p_max_lock_wait => '1 min')`,
        to: `CALL partman_stack.run_maintenance(p_analyze => true, p_lock_timeout => '200ms', p_max_lock_wait => '1 min')`,
      },
    ]);
    await applyStack(session, every15);
    const job = () => cronDb().then((c) => c.query(`SELECT schedule FROM cron.job WHERE jobname = $1`, [`partman-${db.name}`]));
    expect((await job()).rows).toEqual([{ schedule: "*/15 * * * *" }]);

    const off = specFor(db, [events()], { partmanVersion: version, maintenance: { enabled: false } });
    expect((await planStack(session, off)).steps.map((s) => s.action)).toEqual(["unschedule-job"]);
    await applyStack(session, off);
    expect((await job()).rows).toEqual([]);
    expect(await partConfig("public.events")).toBeDefined();
  });
});
