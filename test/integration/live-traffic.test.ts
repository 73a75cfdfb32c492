// Retention under live traffic, with each pg_partman major: hot queries bounded by now() (they plan
// over every partition), single-row writers and a long report run throughout while a retention
// shrink with a premake raise is applied and while the scheduled job's own command runs. No client
// fails, none waits behind the report, exactly the expired partitions go and every row inside the
// horizon stays. A session idle in a transaction on the table makes maintenance defer, within its
// budget, and say so; the next run completes. pg_partman's own maintenance, under the same traffic,
// is the control: it stalls the clients for as long as the report runs, or deadlocks with them.

import { Client } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startProbe } from "../../bench/lib/probe";
import type { Session } from "../../infra/db/session";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { events, sessionFor, specFor } from "../helpers/spec";
import { expectUnharmed, LOCK_TIMEOUT_MS, REPORT_MS, STALL_BUDGET_MS, underTraffic as underTrafficOf, type Traffic } from "../helpers/traffic";

const DAY = 86_400_000;

describe.each(PARTMAN_VERSIONS)(onServer("retention under live traffic with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let session: Session;
  const clients: Client[] = [];
  const start = new Date(Math.floor(Date.now() / DAY) * DAY - 30 * DAY).toISOString().slice(0, 10);
  const spec = (table: Record<string, unknown> = {}, maintenance: Record<string, unknown> = {}) =>
    specFor(db, [events({ startPartition: start, premake: 2, ...table })], {
      partmanVersion: version,
      maintenance: { lockTimeout: `${LOCK_TIMEOUT_MS}ms`, maxLockWait: "30 s", ...maintenance },
    });

  beforeEach(async () => {
    db = await createTestDatabase({ partman: null });
    session = await sessionFor(db);
    await applyStack(session, spec());
    // 30 days of rows, 200 a day.
    await session.target.query(
      `INSERT INTO public.events (run_id, kind, created_at)
       SELECT gen_random_uuid(), 'seed', date_trunc('day', now()) - d * interval '1 day' + g * interval '7 minutes'
         FROM generate_series(0, 29) d, generate_series(0, 199) g`,
    );
    await session.target.query(`ANALYZE public.events`);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
    await (await session.on("postgres")).query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await session.close();
    await db.drop();
  });

  const client = async () => {
    const c = new Client({ connectionString: db.url, application_name: "live-traffic test" });
    await c.connect();
    clients.push(c);
    return c;
  };
  const partitions = async () =>
    (await session.target.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.events'::regclass ORDER BY 1`)).rows.map((r) => r.name);
  /** Partitions whose upper bound is older than now() - retention, as the plan names them. */
  const expiring = async (retention: string) =>
    (await planStack(session, spec({ retention, allowDataLoss: true }))).steps.flatMap((s) => s.dataLoss?.partitions.map((p) => p.name) ?? []);
  /** Seed rows at or after a fixed instant: a cutoff of now() - interval would move between two counts and
   *  drop the seed row (one every 7 minutes) that it passes meanwhile. */
  const rowsSince = async (cutoff: Date) =>
    (await session.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.events WHERE kind = 'seed' AND created_at >= $1`, [cutoff])).rows[0].n;
  const daysAgo = (days: number) => new Date(Date.now() - days * DAY);

  const traffic: Traffic = {
    hot: [`SELECT count(*) FROM public.events WHERE run_id = $1 AND created_at > now() - interval '1 hour'`, () => [crypto.randomUUID()]],
    write: [`INSERT INTO public.events (run_id, kind) VALUES ($1, 'live')`, () => [crypto.randomUUID()]],
    table: "public.events",
  };
  const underTraffic = <T>(fn: () => Promise<T>) => underTrafficOf(db.url, traffic, fn);

  it(`pg_partman ${version}: apply of a retention shrink with a premake raise harms no client, waits out the report, and expires exactly the partitions past the horizon`, { timeout: 60_000 }, async () => {
    const doomed = await expiring("10 days");
    expect(doomed.length).toBeGreaterThanOrEqual(19);
    const before = await partitions();
    const horizon = daysAgo(9);
    const inside = await rowsSince(horizon);

    const t = await underTraffic(() => applyStack(session, spec({ retention: "10 days", allowDataLoss: true, premake: 5 })));
    expectUnharmed(t);
    const { result } = t.value;
    expect(result).toMatchObject({ blocked: [], failed: [] });
    const run = result.maintenance[0].run!;
    expect(result.maintenance[0].notYetExpired).toEqual([]);
    expect(run).toMatchObject({ expired: doomed, deferred: [], error: null });
    expect(run.created.length).toBeGreaterThanOrEqual(3);
    // It waited for the report to end, without queuing: that is why nobody stalled.
    expect(run.waitedMs).toBeGreaterThan(REPORT_MS / 2);

    const after = await partitions();
    expect(after.filter((p) => before.includes(p))).toEqual(before.filter((p) => !doomed.includes(p)));
    expect(await rowsSince(horizon)).toBe(inside);
    expect((await planStack(session, spec({ retention: "10 days", allowDataLoss: true, premake: 5 }))).steps).toEqual([]);
  });

  it(`pg_partman ${version}: the scheduled job's own command harms no client either`, { timeout: 60_000 }, async () => {
    await applyStack(session, spec({ retention: "20 days", allowDataLoss: true }));
    const doomed = await expiring("7 days");
    // What the next apply would set, made by hand, so that only the job's command acts on it.
    await session.target.query(`UPDATE partman_stack.retention SET retention = '7 days'; UPDATE partman.part_config SET premake = 6`);
    expect(doomed.length).toBeGreaterThanOrEqual(5);
    const horizon = daysAgo(6);
    const inside = await rowsSince(horizon);
    const command = (await status(session, spec({ retention: "20 days" }))).job!.command;

    const job = await client();
    const t = await underTraffic(() => job.query(command));
    expectUnharmed(t);
    const run = (await status(session, spec())).tables[0].lastMaintenance!;
    expect(run).toMatchObject({ expired: doomed, deferred: [], error: null });
    expect(run.created.length).toBeGreaterThanOrEqual(4);
    expect((await partitions()).filter((p) => doomed.includes(p))).toEqual([]);
    expect(await rowsSince(horizon)).toBe(inside);
  });

  it(`pg_partman ${version}: a session idle in a transaction on the table makes maintenance defer within its budget, recorded and reported; the next run completes`, { timeout: 60_000 }, async () => {
    const budget = spec({ retention: "20 days", allowDataLoss: true }, { maxLockWait: "2 s" });
    await applyStack(session, budget);
    const shrunk = spec({ retention: "10 days", allowDataLoss: true }, { maxLockWait: "2 s" });
    const doomed = await expiring("10 days");

    const idle = await client();
    await idle.query(`BEGIN; SELECT 1 FROM public.events LIMIT 1`);
    const idlePid = (await idle.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const started = Date.now();
    const hot = await startProbe(db.url, `SELECT count(*) FROM public.events WHERE created_at > now() - interval '1 hour'`, { connections: 2 });
    const { result } = await applyStack(session, shrunk);
    const took = Date.now() - started;
    const probe = await hot.stop();
    expect(probe.errors).toEqual({});
    // It never queued behind the idle transaction: the hot queries went on unstalled.
    expect(probe.maxMs).toBeLessThan(STALL_BUDGET_MS);
    expect(took).toBeLessThan(2 * 2000 + 3000);
    expect(result.failed).toEqual([]);
    expect(result.maintenance[0].notYetExpired).toEqual(doomed);
    const run = result.maintenance[0].run!;
    expect(run).toMatchObject({ expired: [], deferred: doomed, error: null });
    expect(run.deferredReason).toMatch(new RegExp(`^expiring deferred: pid ${idlePid} \\(live-traffic test, user postgres from 127\\.0\\.0\\.1, idle in transaction, in a transaction for \\d\\d:\\d\\d:\\d\\d, connected since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\)$`));

    // status shows it, verify warns; deferred for longer than two periods of the schedule, verify fails.
    expect((await status(session, shrunk)).tables[0].lastMaintenance).toMatchObject({ deferred: doomed });
    const check = async () => (await verify(session, shrunk)).checks.find((c) => c.check === "retention")!;
    expect(await check()).toMatchObject({ status: "warn", message: expect.stringContaining(`${doomed.length} partition(s) past the 10 days horizon`) });
    await session.target.query(`UPDATE partman_stack.maintenance_runs SET started_at = started_at - interval '3 hours'`);
    expect(await check()).toMatchObject({ status: "fail", message: expect.stringContaining(`longer than two periods (7200 s) of "0 * * * *"`) });

    await idle.query(`ROLLBACK`);
    await session.target.query(`CALL partman_stack.run_maintenance(p_parent_table => 'public.events', p_max_lock_wait => '2 s')`);
    expect((await status(session, shrunk)).tables[0].lastMaintenance).toMatchObject({ expired: doomed, deferred: [], deferredReason: null });
    expect((await check()).status).toBe("ok");
  });

  it(`pg_partman ${version}: the control: pg_partman's own maintenance under the same traffic stalls the clients behind the report, or deadlocks with them`, { timeout: 60_000 }, async () => {
    // pg_partman's own retention, as users run it without partman-stack.
    await session.target.query(`UPDATE partman.part_config SET retention = '10 days', retention_keep_table = false, premake = 5 WHERE parent_table = 'public.events'`);
    const job = await client();
    const t = await underTraffic(() => job.query(`SELECT partman.run_maintenance('public.events')`).catch((err: Error) => err));
    const failures = [t.hot, t.writers, t.report].flatMap((p) => Object.keys(p.errors));
    const longest = Math.max(t.hot.maxMs, t.writers.maxMs);
    expect(failures.length > 0 || t.value instanceof Error || longest > REPORT_MS / 2, `errors ${JSON.stringify(failures)}, longest stall ${longest} ms`).toBe(true);
  });
});
