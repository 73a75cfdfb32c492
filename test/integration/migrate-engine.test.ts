// The migration library against real databases with each pg_partman major: a live table with a
// concurrent writer is copied, caught up, verified and swapped with no write lost; rollback and
// finish; what it refuses.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Client } from "pg";
import { MIGRATE_DEFAULTS, migrateFinish, migrateRun, migrateStatus, type MigrateOptions } from "../../infra/migrate/run";
import { planStack } from "../../infra/engine/reconcile";
import type { Session } from "../../infra/db/session";
import { createTestDatabase, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { contents, createLiveEvents, startWriter } from "../helpers/live-table";
import { events, sessionFor, specFor } from "../helpers/spec";

const quiet: MigrateOptions = { ...MIGRATE_DEFAULTS, batchSize: 2000, dryRun: false, log: () => {}, print: () => {} };

describe.each(PARTMAN_VERSIONS)("migration with pg_partman %s", (version) => {
  let db: TestDatabase;
  let session: Session;
  const spec = () => specFor(db, [events({ premake: 3 })], { partmanVersion: version });

  beforeEach(async () => {
    db = await createTestDatabase({ partman: version });
    session = await sessionFor(db);
  });
  afterEach(async () => {
    await session.close();
    await db.drop();
  });

  it("moves a live table onto partitions under concurrent writes, losing none, and finish leaves a managed partition set", { timeout: 120_000 }, async () => {
    await createLiveEvents(db.url, 30_000);
    const writer = await startWriter(db.url);
    await new Promise((r) => setTimeout(r, 300));
    const result = await migrateRun(session, spec(), "public.events", quiet);
    await new Promise((r) => setTimeout(r, 300));
    const counts = await writer.stop();
    expect(counts.errors).toEqual([]);
    expect(counts.inserts + counts.updates + counts.deletes).toBeGreaterThan(50);

    expect(result.verification).toMatchObject({ ok: true, defaultRows: 0 });
    expect(result.swap!.stallMs).toBeLessThan(5000);
    expect(await contents(db.url, "public.events")).toEqual(await contents(db.url, "public.expected"));

    const kind = await session.target.query(`SELECT relkind::text FROM pg_class WHERE oid = 'public.events'::regclass`);
    expect(kind.rows).toEqual([{ relkind: "p" }]);
    expect((await migrateStatus(session, spec(), "events")).phase).toBe("swapped");

    await migrateFinish(session, spec(), "events", quiet);
    expect((await session.target.query(`SELECT to_regclass('public.events_retired') AS r`)).rows).toEqual([{ r: null }]);
    expect((await migrateStatus(session, spec(), "events")).phase).toBe("none");
    // Now an ordinary managed table: plan only applies the declared retention and schedules the job.
    const p = await planStack(session, spec());
    expect(p.problems).toEqual([]);
    expect(p.steps.map((s) => s.action)).toEqual(["update-config", "run-maintenance", "schedule-job"]);
    // New rows keep getting fresh ids.
    const c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(`INSERT INTO public.events (run_id, kind) VALUES (gen_random_uuid(), 'after')`);
    await c.end();
  });
});
