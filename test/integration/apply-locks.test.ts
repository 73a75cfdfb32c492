// Applies that run side by side, as the Pulumi engine runs the table resources of one stack, and
// applies that meet a session holding what they need: another apply of the same table, or
// pg_partman's maintenance (the scheduled job). With each pg_partman major.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Client } from "pg";
import { applyProgress } from "../../infra/cli/format";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import type { Session } from "../../infra/db/session";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { auditLog, dailySuffix, events, sessionFor, specFor } from "../helpers/spec";

const DAY = 86_400_000;

describe.each(PARTMAN_VERSIONS)(onServer("apply locks with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let session: Session;
  const others: Client[] = [];

  beforeEach(async () => {
    db = await createTestDatabase({ partman: version });
    session = await sessionFor(db);
  });

  afterEach(async () => {
    await Promise.all(others.splice(0).map((c) => c.end()));
    await (await session.on("postgres")).query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await session.close();
    await db.drop();
  });

  /** Another session, as another apply or the scheduled job would hold a lock. */
  const holder = async (applicationName: string) => {
    const c = new Client({ connectionString: db.url, application_name: applicationName });
    await c.connect();
    others.push(c);
    return c;
  };
  const tableExists = async (name: string) => (await session.target.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [name])).rows[0].ok as boolean;
  const children = async (table: string) =>
    (await session.target.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, [table])).rows.map((r) => r.name);

  it(`pg_partman ${version}: applies of different tables run side by side and both succeed, each running its maintenance`, async () => {
    const second = await sessionFor(db);
    try {
      // As the Pulumi providers do: one table each, each in a session of its own, at the same time.
      const [a, b] = await Promise.all([
        applyStack(session, specFor(db, [events()], { partmanVersion: version }), {}, ["tables"]),
        applyStack(second, specFor(db, [auditLog()], { partmanVersion: version }), {}, ["tables"]),
      ]);
      for (const r of [a, b]) expect(r.result).toMatchObject({ blocked: [], failed: [] });
      // Each also installs partman-stack's objects if it finds them missing; installs take turns.
      expect(a.result.applied.map((u) => u.unit).filter((u) => u !== "partman-stack objects")).toEqual(["table public.events"]);
      expect(b.result.applied.map((u) => u.unit).filter((u) => u !== "partman-stack objects")).toEqual(["table public.audit_log"]);
      for (const r of [a, b]) expect(r.result.maintenance.map((m) => [m.table, m.run?.error])).toEqual([[r === a ? "public.events" : "public.audit_log", null]]);
      const both = specFor(db, [events(), auditLog()], { partmanVersion: version });
      expect((await planStack(session, both, ["tables"])).steps).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it(`pg_partman ${version}: a second apply of the same table waits for the first, and one that waits too long names it and changes nothing for that table`, async () => {
    const other = await holder("partman-stack apply --stack other");
    // Another apply holds the table's fence (partman-stack's objects, which hold the fences, are in place).
    await applyStack(session, specFor(db, [auditLog()], { partmanVersion: version }));
    const fence = (await other.query<{ r: string }>(`SELECT partman_stack.fence('apply table public.events')::text AS r`)).rows[0].r;
    const take = () => other.query(`BEGIN; LOCK TABLE ${fence} IN SHARE UPDATE EXCLUSIVE MODE`);
    const release = () => other.query(`ROLLBACK`);
    const spec = specFor(db, [events(), auditLog()], { partmanVersion: version });

    await take();
    const started = Date.now();
    const lines: string[] = [];
    const waited = applyStack(session, spec, { lockWaitMs: 20_000, progress: applyProgress((l) => lines.push(l)) });
    await new Promise((r) => setTimeout(r, 1000));
    // Looked at from another connection: the session's own is busy waiting, and has said for whom.
    expect((await other.query(`SELECT to_regclass('public.events') AS t`)).rows).toEqual([{ t: null }]);
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(`^table public\\.events: waiting up to (19|20)\\.\\d s for another apply of it, held by pid ${(other as unknown as { processID: number }).processID} \\(partman-stack apply --stack other, `),
      ),
    ]);
    await release();
    const { result } = await waited;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(result).toMatchObject({ blocked: [], failed: [] });
    expect(await tableExists("public.events")).toBe(true);

    await session.target.query(`DROP TABLE public.events; DELETE FROM partman.part_config WHERE parent_table = 'public.events'`);
    await take();
    const gaveUp = (await applyStack(session, spec, { lockWaitMs: 500 })).result;
    expect(gaveUp.failed).toEqual([
      {
        unit: "table public.events",
        message: expect.stringMatching(
          new RegExp(
            `^table public\\.events: another session is applying it: waited 0\\.\\d s for the apply lock of table public\\.events, held by pid ${(other as unknown as { processID: number }).processID} ` +
              `\\(partman-stack apply --stack other, user postgres from 127\\.0\\.0\\.1, idle in transaction, in a transaction for 00:00:0\\d, connected since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\); nothing was changed for it`,
          ),
        ),
      },
    ]);
    expect(await tableExists("public.events")).toBe(false);
    expect(gaveUp.blocked).toEqual([]);
  });

  it(`pg_partman ${version}: pg_partman's own maintenance running elsewhere neither stops partman-stack's expiry nor has it skip partitions ahead silently: the run waits for it, or defers and says so`, async () => {
    const today = Math.floor(Date.now() / DAY) * DAY;
    const start = new Date(today - 20 * DAY).toISOString().slice(0, 10);
    const table = (extra: Record<string, unknown> = {}, maxLockWait = "2 s") =>
      specFor(db, [events({ startPartition: start, premake: 2, ...extra })], { partmanVersion: version, maintenance: { maxLockWait } });
    await applyStack(session, table());
    await session.target.query(`INSERT INTO public.events (run_id, kind, created_at) SELECT gen_random_uuid(), 'x', now() - g * interval '1 day' FROM generate_series(0, 19) g`);
    const shrink = (maxLockWait?: string) => table({ retention: "10 days", allowDataLoss: true, premake: 5 }, maxLockWait);
    const promised = (await planStack(session, shrink())).steps.find((s) => s.dataLoss)!.dataLoss!.partitions.map((p) => p.name);
    expect(promised).toContain(`events${dailySuffix(version, new Date(today - 15 * DAY))}`);
    const before = await children("public.events");

    // Another pg_partman maintenance run holds pg_partman's lock (4.7's run_maintenance_proc holds it for its whole run).
    const job = await holder("pg_cron");
    await job.query(`SELECT pg_advisory_lock(hashtext('pg_partman run_maintenance'))`);
    // What that does to pg_partman's own call: it returns having done nothing.
    const bystander = await holder("bystander");
    await bystander.query(`UPDATE partman.part_config SET premake = 5 WHERE parent_table = 'public.events'`);
    await bystander.query(`SELECT partman.run_maintenance('public.events')`);
    expect(await children("public.events")).toEqual(before);
    await bystander.query(`UPDATE partman.part_config SET premake = 2 WHERE parent_table = 'public.events'`);

    // partman-stack expires on its own, and defers the partitions ahead after maxLockWait, naming why.
    const deferred = (await applyStack(session, shrink())).result;
    expect(deferred).toMatchObject({ blocked: [], failed: [] });
    expect(deferred.maintenance).toEqual([
      expect.objectContaining({ table: "public.events", notYetExpired: [], run: expect.objectContaining({ created: [], expired: promised, deferred: [], error: null }) }),
    ]);
    // pg_partman's lock is a number any role can take: the deferral names who held it.
    expect(deferred.maintenance[0].run!.deferredReason).toBe(
      `creating partitions deferred: another pg_partman maintenance run held its lock (pid ${(job as unknown as { processID: number }).processID}, pg_cron, user postgres)`,
    );
    expect(deferred.maintenance[0].run!.waitedMs).toBeGreaterThanOrEqual(2000);
    expect(await children("public.events")).toEqual(before.filter((n) => !promised.includes(n)));

    // Released while a run waits for it: the run goes on and makes the partitions ahead.
    const waiting = bystander.query(`CALL partman_stack.run_maintenance(p_parent_table => 'public.events', p_max_lock_wait => '20 s')`);
    await new Promise((r) => setTimeout(r, 800));
    await job.query(`SELECT pg_advisory_unlock(hashtext('pg_partman run_maintenance'))`);
    await waiting;
    const last = (await session.target.query(`SELECT created, deferred_reason, waited_ms FROM partman_stack.maintenance_runs ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(last.created.length).toBeGreaterThanOrEqual(3);
    expect(last.deferred_reason).toBeNull();
    expect(last.waited_ms).toBeGreaterThanOrEqual(700);
    expect((await planStack(session, shrink())).steps).toEqual([]);
    expect((await session.target.query(`SELECT count(*)::int AS n FROM public.events`)).rows).toEqual([{ n: 11 }]);
  });
});
