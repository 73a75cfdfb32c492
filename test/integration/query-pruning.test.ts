// Declared hot queries against real partition sets with each pg_partman major (time, integer-range
// and, on 5.2+, UUIDv7 sets): checkQueryPruning
// reads the custom and the generic plan of each (parameters bound, nothing run), and
// expectQueriesPrune throws naming every query that scans more than its bound or no index.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QuerySpec } from "../../infra/config/types";
import type { Session } from "../../infra/db/session";
import { checkQueryPruning } from "../../infra/engine/pruning";
import { applyStack } from "../../infra/engine/reconcile";
import { expectQueriesPrune } from "partman-stack/testing";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { auditLog, dailySuffix, events, jobLog, sessionFor, specFor, userEvents } from "../helpers/spec";

const DAY = 86_400_000;
const RUN = "0b7e4a52-3c1d-4f7a-9d55-2f4e8f1c6a10";

function query(name: string, sql: string, params: (string | null)[], more: Partial<QuerySpec> = {}): QuerySpec {
  return { name, source: `queries[${name}]`, sql, params, maxPartitions: 2, index: false, ...more };
}

describe.each(PARTMAN_VERSIONS)(onServer("query pruning with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let session: Session;
  // UUIDv7 sets need pg_partman 5.2.
  const uuidv7 = !version.startsWith("4.") && !/^5\.[01]\./.test(version);
  const spec = () => specFor(db, [events({ premake: 3 }), auditLog(), jobLog(), ...(uuidv7 ? [userEvents()] : [])], { partmanVersion: version });
  const table = () => spec().tables[0];
  const today = new Date(Math.floor(Date.now() / DAY) * DAY);
  const day = (n: number) => new Date(today.getTime() + n * DAY);
  const partition = (n: number) => `events${dailySuffix(version, day(n))}`;
  const names = async () => (await session.target.query(`SELECT c.relname::text AS name FROM pg_partition_tree('public.events') t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf ORDER BY 1`)).rows.map((r) => r.name as string);
  const all = async () => (await names()).length;

  beforeAll(async () => {
    db = await createTestDatabase({ partman: null });
    session = await sessionFor(db);
    await applyStack(session, spec());
  });
  afterAll(async () => {
    await session.close();
    await db.drop();
  });

  it(`pg_partman ${version}: a query bounded by a time window prunes to the window's partitions in its custom and generic plans`, async () => {
    const total = await all();
    const [one, two] = await checkQueryPruning(session, table(), [
      query("one-day", "SELECT * FROM public.events WHERE run_id = $1 AND created_at >= $2 AND created_at < $3", [RUN, "today", "tomorrow"], { maxPartitions: 1 }),
      query("two-days", "SELECT * FROM public.events WHERE created_at >= $1 AND created_at < $2", [day(0).toISOString(), day(2).toISOString()]),
    ]);
    expect(one).toMatchObject({ ok: true, problems: [], totalPartitions: total, custom: { partitions: [partition(0)], removedAtStartup: 0 }, generic: { partitions: [partition(0)], removedAtStartup: total - 1 } });
    expect(one.custom!.indexes).toEqual([expect.stringMatching(/run_id_created_at_idx$/)]);
    expect(two).toMatchObject({ ok: true, custom: { partitions: [partition(0), partition(1)] }, generic: { partitions: [partition(0), partition(1)], removedAtStartup: total - 2 } });
  });

  it(`pg_partman ${version}: a query without the partition key, or with a function on it, scans every partition and fails naming it`, async () => {
    const every = await names();
    const total = every.length;
    const queries = [
      query("by-run", "SELECT * FROM public.events WHERE run_id = $1", [RUN]),
      query("by-day", "SELECT * FROM public.events WHERE date_trunc('day', created_at) = $1", ["today"]),
    ];
    const results = await checkQueryPruning(session.target, table(), queries);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(r.custom!.partitions).toHaveLength(total);
      expect(r.generic!.partitions).toHaveLength(total);
      expect(r.problems).toEqual([`query "${r.query}" (queries[${r.query}]) scans ${total} of ${total} partitions of public.events in its custom and generic plans (${every.join(", ")}), more than maxPartitions 2`]);
      expect(r.fix).toMatch(/^bound created_at itself \(created_at >= \$1 AND created_at < \$2\), not an expression or cast of it/);
    }
    const t = { ...table(), queries: [query("ok", "SELECT * FROM public.events WHERE created_at >= $1 AND created_at < $2", ["today", "tomorrow"]), ...queries] };
    const thrown = await expectQueriesPrune(db.url, [t]).catch((err: Error) => err);
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toMatch(/^2 of 3 queries do not prune as declared:\n- query "by-run" .*\n  fix: bound created_at itself .*\n- query "by-day" .*\n  fix: /);
  });

  it(`pg_partman ${version}: a now()-bounded query prunes when the executor starts, even in its custom plan; an open end reaches the premade partitions and the default`, async () => {
    const total = await all();
    const [bounded, open] = await checkQueryPruning(session, table(), [
      query("last-hour", "SELECT * FROM public.events WHERE created_at > now() - $1::interval AND created_at <= now()", ["1 hour"]),
      query("since-an-hour", "SELECT * FROM public.events WHERE created_at > now() - $1::interval", ["1 hour"]),
    ]);
    expect(bounded.ok).toBe(true);
    for (const p of [bounded.custom!, bounded.generic!]) {
      expect(p.partitions).toContain(partition(0));
      expect(p.partitions.length).toBeLessThanOrEqual(2);
      expect(p.removedAtStartup).toBe(total - p.partitions.length);
    }
    expect(open.ok).toBe(false);
    expect(open.custom!.partitions).toEqual(expect.arrayContaining([partition(0), partition(1), partition(2), partition(3), "events_default"]));
    expect(open.problems[0]).toMatch(/^query "since-an-hour" .* scans \d+ of \d+ partitions of public\.events in its custom and generic plans/);
  });

  it(`pg_partman ${version}: never changes data, leaves no prepared statement, and reports a query it cannot plan`, async () => {
    await session.target.query(`INSERT INTO public.events (run_id, kind, created_at) VALUES ($1, 'kept', now())`, [RUN]);
    const [del, bad] = await checkQueryPruning(session, table(), [
      query("delete-run", "DELETE FROM public.events WHERE run_id = $1 AND created_at >= $2 AND created_at < $3", [RUN, "today", "tomorrow"], { maxPartitions: 1 }),
      query("typo", "SELECT * FROM public.events WHERE kindd = $1", ["x"]),
    ]);
    expect(del).toMatchObject({ ok: true, custom: { partitions: [partition(0)] }, generic: { partitions: [partition(0)] } });
    expect(bad).toEqual(expect.objectContaining({ ok: false, custom: null, generic: null, problems: [`query "typo" (queries[typo]) cannot be planned: column "kindd" does not exist`] }));
    expect((await session.target.query(`SELECT count(*)::int AS n FROM public.events WHERE run_id = $1`, [RUN])).rows).toEqual([{ n: 1 }]);
    expect((await session.target.query(`SELECT count(*)::int AS n FROM pg_prepared_statements`)).rows).toEqual([{ n: 0 }]);
  });

  it(`pg_partman ${version}: the shipped queries of events, audit_log, job_log${uuidv7 ? " and user_events" : ""} prune as declared`, async () => {
    const results = await expectQueriesPrune(db.url, spec());
    expect(results.map((r) => `${r.table} ${r.query}`)).toEqual([
      "public.events agent-recent-events",
      "public.events kind-counts-in-window",
      "public.events run-events-in-window",
      "public.audit_log actor-actions-in-window",
      "public.audit_log target-history",
      "public.job_log job-log-entry",
      "public.job_log job-runs-in-id-range",
      ...(uuidv7 ? ["public.user_events kind-counts-in-window", "public.user_events user-events-in-window"] : []),
    ]);
    // Each reads exactly the partition holding its ids or its day.
    const [entry, page] = await checkQueryPruning(session, spec().tables[2], spec().tables[2].queries);
    expect([entry.custom!.partitions, entry.generic!.partitions, page.custom!.partitions]).toEqual([["job_log_p1000"], ["job_log_p1000"], ["job_log_p1000"]]);
    if (uuidv7) {
      const feed = (await checkQueryPruning(session, spec().tables[3], spec().tables[3].queries)).find((r) => r.query === "user-events-in-window")!;
      expect([feed.custom!.partitions, feed.generic!.partitions]).toEqual([[`user_events${dailySuffix(version, today)}`], [`user_events${dailySuffix(version, today)}`]]);
    }
  });

  it(`pg_partman ${version}: index: true fails on a sequential scan of a partition past 1 MB, and passes through an index`, async () => {
    await session.target.query(
      `INSERT INTO public.events (run_id, kind, payload, created_at)
       SELECT gen_random_uuid(), 'bulk', jsonb_build_object('ticket', i), date_trunc('day', now()) + (i % 86000) * interval '1 second' FROM generate_series(1, 30000) i`,
    );
    await session.target.query(`ANALYZE public.events`);
    const [unindexed, indexed] = await checkQueryPruning(session, table(), [
      query("by-ticket", "SELECT * FROM public.events WHERE payload->>'ticket' = $1 AND created_at >= $2 AND created_at < $3", ["42", "today", "tomorrow"], { index: true }),
      query("by-run", "SELECT * FROM public.events WHERE run_id = $1 AND created_at >= $2 AND created_at < $3", [RUN, "today", "tomorrow"], { index: true }),
    ]);
    expect(unindexed.ok).toBe(false);
    expect(unindexed.problems).toEqual([expect.stringMatching(new RegExp(`^query "by-ticket" \\(queries\\[by-ticket\\]\\) reads ${partition(0)} \\(\\d+\\.\\d MB\\) whole \\(Seq Scan\\) in its custom and generic plans, but is declared index: true$`))]);
    expect(unindexed.fix).toBe(`create an index that serves the query's conditions on public.events (it is made on every partition), or declare index: false`);
    expect(indexed).toMatchObject({ ok: true, custom: { seqScans: [] }, generic: { seqScans: [] } });
    expect(indexed.custom!.indexes).toEqual([expect.stringMatching(/run_id_created_at_idx$/)]);
  });
});
