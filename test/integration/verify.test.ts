// `verify` against real databases with each pg_partman major: passes on a healthy stack and fails,
// saying why and what to do, on each broken condition.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyStack } from "../../infra/engine/reconcile";
import { verify, type Check } from "../../infra/engine/verify";
import { versionAtLeast } from "../../infra/partman/version";
import type { Session } from "../../infra/db/session";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { events, sessionFor, specFor } from "../helpers/spec";

describe.each(PARTMAN_VERSIONS)(onServer("verify with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let session: Session;
  const spec = () => specFor(db, [events({ premake: 3, retention: "30 days" })], { partmanVersion: version });
  const cron = () => session.on("postgres");
  const jobName = () => `partman-${db.name}`;
  const failed = (checks: Check[]) => checks.filter((c) => c.status === "fail");

  beforeEach(async () => {
    db = await createTestDatabase({ partman: null });
    session = await sessionFor(db);
    await applyStack(session, spec());
  });
  afterEach(async () => {
    await (await cron()).query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await session.close();
    await db.drop();
  });

  it(`pg_partman ${version}: passes on a healthy stack, warning only that the new job has not run yet, and proves pruning`, async () => {
    const r = await verify(session, spec());
    expect(failed(r.checks)).toEqual([]);
    expect(r.ok).toBe(true);
    // Releases before 5.5.0 lack security fixes that apply to every stack (the template-table CVE): a warning.
    const secure = versionAtLeast(version, "5.5.0") ? "ok" : "warn";
    expect(r.checks.map((c) => `${c.check}:${c.status}`)).toEqual([`partman-version:${secure}`, "table:ok", "config:ok", "premake:ok", "bounds:ok", "last-run:ok", "retention:ok", "default-partition:ok", "pruning:ok", "query:ok", "query:ok", "query:ok", "maintenance-job:warn"]);
    const pruning = r.checks.find((c) => c.check === "pruning")!;
    expect(pruning.message).toMatch(/^a query on created_at within \[\S+, \S+\) scans only events_p\w+; a query without a bound on created_at scans all \d+ partition\(s\)$/);
    // The shipped sql/queries/public.events files, one check each.
    expect(r.checks.filter((c) => c.check === "query").map((c) => c.query)).toEqual(["agent-recent-events", "kind-counts-in-window", "run-events-in-window"]);
    expect(r.checks.find((c) => c.query === "run-events-in-window")!.message).toMatch(
      /^query "run-events-in-window" \(sql\/queries\/public\.events\/run-events-in-window\.sql\): custom plan scans 1 \(events_p\w+\), generic plan 1 \(events_p\w+; \d+ removed at executor startup\) of \d+ partition\(s\), maxPartitions 1; through events_p\w+_run_id_created_at_idx$/,
    );
    expect(r.checks.at(-1)!.message).toContain("has no run recorded yet");
  });

  it(`pg_partman ${version}: fails on a declared query that does not prune, naming it and the fix`, async () => {
    const declared = specFor(db, [events({ premake: 3, retention: "30 days", queries: [{ name: "by-day", sql: "SELECT * FROM public.events WHERE created_at::date = $1", params: ["today"] }] })], { partmanVersion: version });
    const r = await verify(session, declared);
    expect(r.ok).toBe(false);
    expect(failed(r.checks)).toEqual([
      {
        check: "query",
        table: "public.events",
        query: "by-day",
        status: "fail",
        message: expect.stringMatching(/^query "by-day" \(queries\[0\]\) scans (\d+) of \1 partitions of public\.events in its custom and generic plans \(events_default, events_p\w+(, events_p\w+)*\), more than maxPartitions 2 \(query "by-day" \(queries\[0\]\): custom plan scans \1 /),
        fix: expect.stringMatching(/^bound created_at itself/),
      },
    ]);
  });

  it(`pg_partman ${version}: fails on missing future partitions`, async () => {
    const newest = (await session.target.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.events'::regclass AND c.relname <> 'events_default' ORDER BY c.relname DESC LIMIT 2`)).rows;
    for (const r of newest) await session.target.query(`DROP TABLE public.${r.relname}`);
    const r = await verify(session, spec());
    expect(r.ok).toBe(false);
    expect(failed(r.checks)).toEqual([{ check: "premake", table: "public.events", status: "fail", message: expect.stringMatching(/^partitions reach only \S+; premake 3 needs them until/), fix: expect.any(String) }]);
  });

  it(`pg_partman ${version}: fails on rows in the default partition, by range, and --fix moves them into partitions`, async () => {
    await session.target.query(`INSERT INTO public.events (run_id, kind, created_at) VALUES (gen_random_uuid(), 'late', date_trunc('day', now()) + interval '60 days 1 hour'), (gen_random_uuid(), 'late', date_trunc('day', now()) + interval '60 days 2 hours')`);
    const r = await verify(session, spec());
    const d = failed(r.checks);
    expect(d).toHaveLength(1);
    expect(d[0].message).toMatch(/^public\.events_default holds 2 row\(s\), by 1 day range: \d{4}-\d\d-\d\dT00:00:00\.000Z: 2$/);
    expect(d[0].fix).toContain(`SELECT "partman".partition_data_time(p_parent_table => 'public.events', p_batch_count => 1, p_analyze => false${versionAtLeast(version, "5.3.0") ? ", p_override_system_value => true" : ""}) AS moved until it returns 0`);
    const fixed = await verify(session, spec(), { fix: true });
    expect(fixed.ok).toBe(true);
    expect((await session.target.query(`SELECT count(*)::int AS n FROM public.events WHERE kind = 'late'`)).rows).toEqual([{ n: 2 }]);
  });

  it(`pg_partman ${version}: fails on a gap between partitions, which --fix fills, and on a partition off UTC boundaries`, async () => {
    const middle = (await session.target.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.events'::regclass AND c.relname <> 'events_default' ORDER BY c.relname LIMIT 1 OFFSET 2`)).rows[0].relname;
    await session.target.query(`DROP TABLE public.${middle}`);
    const gap = failed((await verify(session, spec())).checks);
    expect(gap).toEqual([
      expect.objectContaining({ check: "bounds", message: expect.stringMatching(/^nothing covers \[\S+T00:00:00\.000Z → \S+T00:00:00\.000Z\) between events_p\w+ and events_p\w+: rows for those times land in the default partition/), fix: expect.stringContaining(`partition_gap_fill('public.events')`) }),
    ]);
    const fixed = await verify(session, spec(), { fix: true });
    expect(failed(fixed.checks)).toEqual([]);
    expect((await session.target.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`public.${middle}`])).rows).toEqual([{ ok: true }]);

    // As a session in America/New_York lays a day out: from 05:00 UTC.
    const end = (await session.target.query(`SELECT max(upper) AS u FROM (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz AS upper FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.events'::regclass AND c.relname <> 'events_default') b`)).rows[0].u as Date;
    const from = new Date(end.getTime() + 5 * 3_600_000).toISOString();
    const to = new Date(end.getTime() + 29 * 3_600_000).toISOString();
    await session.target.query(`CREATE TABLE public.events_ny PARTITION OF public.events FOR VALUES FROM ('${from}') TO ('${to}')`);
    expect(failed((await verify(session, spec())).checks)).toEqual([
      expect.objectContaining({ check: "bounds", message: `partitions off the 1 day boundaries in UTC, as pg_partman makes them when it runs in another TimeZone: events_ny [${from} → ${to}]` }),
    ]);
  });

  it(`pg_partman ${version}: fails when a table's last maintenance run failed, though the job itself succeeds`, async () => {
    // A hand edit maintenance cannot read: the run records the error for this table and goes on.
    await session.target.query(`UPDATE partman_stack.retention SET retention = '10 dayz' WHERE parent_table = 'public.events'`);
    await session.target.query(`CALL partman_stack.run_maintenance()`);
    const r = await verify(session, spec());
    expect(failed(r.checks)).toEqual([
      expect.objectContaining({ check: "config" }),
      expect.objectContaining({ check: "last-run", message: expect.stringMatching(/^the last maintenance run \(\S+\) failed for public\.events \(the other sets went on\): expiring partitions: invalid input syntax for type interval: "10 dayz"; last succeeded: \S+$/) }),
    ]);
  });

  it(`pg_partman ${version}: fails on a stopped job, a failed last run, and a last run older than two schedule periods`, async () => {
    const c = await cron();
    const jobid = (await c.query(`SELECT jobid FROM cron.job WHERE jobname = $1`, [jobName()])).rows[0].jobid;
    await c.query(`INSERT INTO cron.job_run_details (jobid, runid, database, username, command, status, return_message, start_time, end_time) VALUES ($1, nextval('cron.runid_seq'), $2, 'postgres', 'CALL', 'succeeded', 'CALL', now() - interval '3 hours', now() - interval '3 hours')`, [jobid, db.name]);
    let r = await verify(session, spec());
    expect(failed(r.checks)).toEqual([expect.objectContaining({ check: "maintenance-job", message: expect.stringMatching(/more than two periods \(7200 s\) of "0 \* \* \* \*" ago$/) })]);

    await c.query(`INSERT INTO cron.job_run_details (jobid, runid, database, username, command, status, return_message, start_time, end_time) VALUES ($1, nextval('cron.runid_seq'), $2, 'postgres', 'CALL', 'failed', 'ERROR: boom', now(), now())`, [jobid, db.name]);
    r = await verify(session, spec());
    expect(failed(r.checks)).toEqual([expect.objectContaining({ check: "maintenance-job", message: expect.stringMatching(/failed: ERROR: boom$/) })]);

    await c.query(`SELECT cron.alter_job($1, active => false)`, [jobid]);
    r = await verify(session, spec());
    expect(failed(r.checks)).toEqual([expect.objectContaining({ check: "maintenance-job", message: `pg_cron job ${jobName()} is not active` })]);
  });

  it(`pg_partman ${version}: warns while an entry still declares allowDataLoss after the change it acknowledged is applied, and passes once it is removed`, async () => {
    const acknowledged = specFor(db, [events({ premake: 3, retention: "30 days", allowDataLoss: true })], { partmanVersion: version });
    const config = async (s: typeof acknowledged) => (await verify(session, s)).checks.find((c) => c.check === "config")!;
    expect(await config(acknowledged)).toEqual({
      check: "config",
      table: "public.events",
      status: "warn",
      message: `part_config and retention match stack test, but allowDataLoss: true is still declared: a later retention change that drops partitions would go through without the data-loss guard`,
      fix: `remove allowDataLoss from public.events's entry in stacks/Pulumi.test.yaml now that the change it acknowledged is applied`,
    });
    expect((await verify(session, acknowledged)).ok).toBe(true);
    expect(await config(spec())).toMatchObject({ status: "ok" });
  });

  it(`pg_partman ${version}: fails on drift of part_config and of the retention, naming pg_partman's own retention switched back on`, async () => {
    await session.target.query(`UPDATE partman_stack.retention SET retention = '1 day' WHERE parent_table = 'public.events'`);
    await session.target.query(`UPDATE partman.part_config SET retention = '2 days' WHERE parent_table = 'public.events'`);
    const r = await verify(session, spec());
    expect(failed(r.checks)).toEqual([
      expect.objectContaining({ check: "config", message: `configuration differs from stack test: part_config.retention is "2 days", declared (none), retention is "1 day", declared "30 days"` }),
    ]);
  });
});
