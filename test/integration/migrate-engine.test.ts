// The migration library against real databases with each pg_partman major: a live table with a
// concurrent writer is copied, caught up, verified and swapped with no write lost; rollback and
// finish; what it refuses, the swap included (columns changed during the copy).

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Client } from "pg";
import { MIGRATE_DEFAULTS, migrateFinish, migrateRollback, migrateRun, migrateStatus, type MigrateOptions } from "../../infra/migrate/run";
import { planStack } from "../../infra/engine/reconcile";
import type { Session } from "../../infra/db/session";
import { versionAtLeast } from "../../infra/partman/version";
import { availablePartman, createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { contents, createLiveEvents, startWriter } from "../helpers/live-table";
import { events, sessionFor, specFor } from "../helpers/spec";

const quiet: MigrateOptions = { ...MIGRATE_DEFAULTS, batchSize: 2000, dryRun: false, log: () => {}, print: () => {} };

describe.each(PARTMAN_VERSIONS)(onServer("migration with pg_partman %s"), (version) => {
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

  it(`pg_partman ${version}: status of a table no migration has touched, on a database partman-stack has installed nothing in: none, and nobody running it`, async () => {
    await createLiveEvents(db.url, 10);
    expect(await migrateStatus(session, spec(), "events")).toMatchObject({ phase: "none", runningBy: null });
    expect((await session.target.query(`SELECT to_regnamespace('partman_stack') AS s`)).rows).toEqual([{ s: null }]);
  });

  it(`pg_partman ${version}: moves a live table onto partitions under concurrent writes, losing none, and finish leaves a managed partition set`, { timeout: 120_000 }, async () => {
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
    // Now an ordinary managed table: plan only applies the declared retention, installs the maintenance procedure and schedules the job.
    const p = await planStack(session, spec());
    expect(p.problems).toEqual([]);
    expect(p.steps.map((s) => s.action)).toEqual(["schedule-job"]);
    // New rows keep getting fresh ids.
    const c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(`INSERT INTO public.events (run_id, kind) VALUES (gen_random_uuid(), 'after')`);
    await c.end();
  });

  it(`refuses the swap, changing nothing, when the live table's columns changed during the copy, and swaps once the change is undone (pg_partman ${version})`, { timeout: 60_000 }, async () => {
    await createLiveEvents(db.url, 5_000);
    const before = await contents(db.url, "public.events");
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      let altered: Promise<unknown> | null = null;
      // After the copy, before verify and the swap: the ALTER holds the live table until it commits.
      // (No change that rewrites the table: a snapshot older than a rewrite sees the table empty,
      // so verify would refuse first.)
      const log = (line: string) => {
        if (line.startsWith("catching up") && !altered) altered = other.query(`ALTER TABLE public.events ADD COLUMN source text DEFAULT 'api', ALTER COLUMN kind TYPE varchar`);
      };
      const refusal =
        /the columns of public\.events changed after the migration built its copy \(partman_migrate\.events\): added source text; kind changed from text to character varying\. Swapping would lose or invent data, so nothing was swapped\. Either undo the change on public\.events, or roll back \(migrate rollback events\) and run again to copy the table as it is now \(change sql\/tables\/events\.sql to match it first\)/;
      await expect(migrateRun(session, spec(), "events", { ...quiet, log })).rejects.toThrow(refusal);
      await altered;
      expect((await session.target.query(`SELECT relkind::text FROM pg_class WHERE oid = 'public.events'::regclass`)).rows).toEqual([{ relkind: "r" }]);
      expect((await migrateStatus(session, spec(), "events")).phase).toBe("catching-up");
      // plan meanwhile names the copy as the migration's, not as a set nobody declared.
      expect((await planStack(session, spec())).warnings).toContain(
        `table partman_migrate.events is the partitioned copy a migration is building (partman-stack migrate run events): it takes the live table's place at the swap; partman-stack migrate status events shows how far it is`,
      );
      // A resumed run refuses before copying anything.
      await expect(migrateRun(session, spec(), "events", quiet)).rejects.toThrow(refusal);

      await other.query(`ALTER TABLE public.events DROP COLUMN source, ALTER COLUMN kind TYPE text`);
      const r = await migrateRun(session, spec(), "events", quiet);
      expect(r.verification!.ok).toBe(true);
      expect(await contents(db.url, "public.events")).toEqual(before);
      await migrateFinish(session, spec(), "events", quiet);
    } finally {
      await other.end();
    }
  });
});

const RELEASE = availablePartman("5.2.4");

describe(onServer(`migration with pg_partman ${RELEASE}: rollback, dry run, refusals and edge cases`), () => {
  let db: TestDatabase;
  let session: Session;
  const spec = () => specFor(db, [events({ premake: 3 })], { partmanVersion: RELEASE });
  const q1 = async (sql: string) => (await session.target.query(sql)).rows;

  beforeEach(async () => {
    db = await createTestDatabase({ partman: RELEASE });
    session = await sessionFor(db);
  });
  afterEach(async () => {
    await session.close();
    await db.drop();
  });

  it("rolls back after the swap with every write made since, and can swap again", { timeout: 120_000 }, async () => {
    await createLiveEvents(db.url, 10_000);
    const writer = await startWriter(db.url);
    await migrateRun(session, spec(), "events", quiet);
    await new Promise((r) => setTimeout(r, 400));
    expect(await migrateRollback(session, spec(), "events", quiet)).toBe("restored");
    expect(await q1(`SELECT relkind::text FROM pg_class WHERE oid = 'public.events'::regclass`)).toEqual([{ relkind: "r" }]);
    await new Promise((r) => setTimeout(r, 400));
    await writer.pause();
    expect(await contents(db.url, "public.events")).toEqual(await contents(db.url, "public.expected"));
    writer.resume();
    expect((await migrateStatus(session, spec(), "events")).phase).toBe("catching-up");

    const again = await migrateRun(session, spec(), "events", quiet);
    expect(again.verification!.ok).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const counts = await writer.stop();
    expect(counts.errors).toEqual([]);
    expect(await contents(db.url, "public.events")).toEqual(await contents(db.url, "public.expected"));
    // The identity sequence carried over both ways: new rows do not collide.
    await q1(`INSERT INTO public.events (run_id, kind) SELECT gen_random_uuid(), 'x' FROM generate_series(1, 10)`);
  });

  it("copies in key order with a composite primary key that already holds the control column", { timeout: 60_000 }, async () => {
    await createLiveEvents(db.url, 20_000, "bigint+created_at");
    const writer = await startWriter(db.url);
    const r = await migrateRun(session, spec(), "events", { ...quiet, batchSize: 3000 });
    expect(r.rowsCopied).toBeGreaterThanOrEqual(20_000);
    await new Promise((res) => setTimeout(res, 200));
    expect((await writer.stop()).errors).toEqual([]);
    expect(await contents(db.url, "public.events")).toEqual(await contents(db.url, "public.expected"));
  });

  it("abandons a migration before the swap, leaving the live table as it was", async () => {
    await createLiveEvents(db.url, 5_000);
    const before = await contents(db.url, "public.events");
    await migrateRun(session, { ...spec() }, "events", { ...quiet, batchSize: 1000 });
    await migrateRollback(session, spec(), "events", quiet);
    expect(await migrateRollback(session, spec(), "events", quiet)).toBe("abandoned");
    expect(await q1(`SELECT relkind::text FROM pg_class WHERE oid = 'public.events'::regclass`)).toEqual([{ relkind: "r" }]);
    expect(await q1(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'public.events'::regclass`)).toEqual([{ n: 0 }]);
    expect(await q1(`SELECT to_regclass('partman_migrate.events') AS t, (SELECT count(*)::int FROM partman.part_config) AS sets`)).toEqual([{ t: null, sets: 0 }]);
    expect(await contents(db.url, "public.events")).toEqual(before);
  });

  it("prints every statement in a dry run and changes nothing", async () => {
    await createLiveEvents(db.url, 1_000);
    const catalog = () => q1(`SELECT (SELECT count(*)::int FROM pg_class) AS relations, (SELECT count(*)::int FROM pg_trigger) AS triggers, (SELECT count(*)::int FROM pg_namespace) AS schemas`);
    const before = await catalog();
    const printed: string[] = [];
    await migrateRun(session, spec(), "events", { ...quiet, dryRun: true, print: (s) => printed.push(s) });
    expect(await catalog()).toEqual(before);
    const text = printed.join("\n");
    // The DDL file's statements as printed from their parse trees, renamed to the copy.
    expect(text).toContain(`CREATE TABLE partman_migrate.events (`);
    expect(text).toContain(`SELECT "partman".${versionAtLeast(RELEASE, "5.4.0") ? "create_partition" : "create_parent"}(p_parent_table => 'partman_migrate.events', p_control => 'created_at', p_interval => '1 day', p_premake => 10`);
    expect(text).toMatch(/CREATE TRIGGER "partman_migrate_capture" AFTER INSERT OR UPDATE OR DELETE ON "public"\."events"/);
    expect(text).toContain(`SELECT "id", "run_id", "agent_id", "kind", "payload", "created_at" FROM "public"."events" ORDER BY "id" LIMIT 2000`);
    expect(text).toContain(`INSERT INTO "partman_migrate"."events" ("id", "run_id", "agent_id", "kind", "payload", "created_at") OVERRIDING SYSTEM VALUE SELECT`);
    expect(text).toContain(
      `SELECT * FROM partman_stack.lock_in_order(ARRAY['"public"."events"', '"partman_migrate"."events_changes"', '"partman_migrate"."events"']::regclass[], '2000 ms', '300000 ms', 'ACCESS EXCLUSIVE');`,
    );
    expect(text).toContain(`SET LOCAL lock_timeout = '2000ms';`);
    expect(text).toContain(`ALTER TABLE "public"."events" RENAME TO "events_retired";`);
    expect(text).toContain(`ALTER TABLE "partman_migrate"."events" SET SCHEMA "public";`);
  });

  it("refuses foreign keys that point at the table, NULL control values and a DDL file that would lose columns, before changing anything", async () => {
    await createLiveEvents(db.url, 100);
    const refuse = (what: RegExp) => expect(migrateRun(session, spec(), "events", quiet)).rejects.toThrow(what);
    await q1(`CREATE TABLE public.event_notes (event_id bigint REFERENCES public.events (id))`);
    await refuse(/foreign key event_notes_event_id_fkey on public\.event_notes references public\.events .*drop it first \(ALTER TABLE public\.event_notes DROP CONSTRAINT "event_notes_event_id_fkey"\)/s);
    await q1(`DROP TABLE public.event_notes; ALTER TABLE public.events ALTER COLUMN created_at DROP NOT NULL; UPDATE public.events SET created_at = NULL WHERE id = 1`);
    await refuse(/rows with created_at NULL, which no partition can hold/);
    await q1(`DELETE FROM public.events WHERE id = 1; ALTER TABLE public.events ADD COLUMN source text`);
    await refuse(/sql\/tables\/events\.sql does not hold every column of the live public\.events .*source text/s);
    expect(await q1(`SELECT to_regclass('partman_migrate.events') AS t, (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'public.events'::regclass) AS triggers`)).toEqual([{ t: null, triggers: 0 }]);
    await q1(`ALTER TABLE public.events DROP COLUMN source, DROP CONSTRAINT events_pkey`);
    await refuse(/has no primary key/);
  });

  it("without a DDL file copies the live definition: serial key, CHECK, generated column, unique index and foreign key", { timeout: 60_000 }, async () => {
    await q1(`CREATE TABLE public.agents (id uuid PRIMARY KEY);
      INSERT INTO public.agents SELECT gen_random_uuid() FROM generate_series(1, 10);
      CREATE TABLE public.events (
        id bigserial PRIMARY KEY, run_id uuid NOT NULL, agent_id uuid REFERENCES public.agents (id),
        kind text NOT NULL CHECK (kind <> ''), payload jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(), kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED);
      CREATE UNIQUE INDEX events_run_id_key ON public.events (run_id);
      INSERT INTO public.events (run_id, agent_id, kind, created_at)
        SELECT gen_random_uuid(), (SELECT id FROM public.agents LIMIT 1), 'k' || g % 3, now() - g * interval '1 hour' FROM generate_series(1, 3000) g`);
    const before = await q1(`SELECT count(*)::int AS n, max(id)::int AS max FROM public.events`);
    const noDdl = specFor(db, [events({ ddl: null, premake: 3 })], { partmanVersion: RELEASE });
    const logged: string[] = [];
    await migrateRun(session, noDdl, "events", { ...quiet, log: (l) => logged.push(l) });
    expect(logged).toContain("unique index events_run_id_key becomes unique on its columns plus created_at (a partitioned table enforces uniqueness only together with its partition key)");
    const defs = (await q1(`SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = 'public.events'::regclass ORDER BY 1`)).map((r) => r.d);
    expect(defs).toEqual(expect.arrayContaining(["CHECK ((kind <> ''::text))", "FOREIGN KEY (agent_id) REFERENCES public.agents(id)", "PRIMARY KEY (id, created_at)"]));
    expect((await q1(`SELECT indexdef FROM pg_indexes WHERE tablename = 'events' AND indexdef LIKE 'CREATE UNIQUE INDEX%run_id%'`))[0].indexdef).toContain("(run_id, created_at)");
    await migrateFinish(session, noDdl, "events", quiet);
    // The serial sequence now belongs to the partitioned table: it survived finish and continues.
    const added = await q1(`INSERT INTO public.events (run_id, kind) VALUES (gen_random_uuid(), 'new') RETURNING id::int, kind_upper`);
    expect(added[0].id).toBeGreaterThan(before[0].max);
    expect(added[0].kind_upper).toBe("NEW");
    expect(await q1(`SELECT count(*)::int AS n FROM public.events`)).toEqual([{ n: before[0].n + 1 }]);
  });

  it("puts rows outside the declared partitions in the default partition and reports them, and carries grants over", async () => {
    await createLiveEvents(db.url, 2_000);
    const reader = `r_${db.name}`;
    await q1(`CREATE ROLE ${reader}; GRANT SELECT ON public.events TO ${reader}`);
    try {
      await q1(`INSERT INTO public.events (run_id, kind, created_at) VALUES (gen_random_uuid(), 'future', now() + interval '1 year')`);
      const logged: string[] = [];
      const r = await migrateRun(session, spec(), "events", { ...quiet, log: (l) => logged.push(l) });
      expect(r.verification!.defaultRows).toBe(1);
      expect(logged).toContain("1 row(s) fall outside the declared partitions and are in the default partition");
      expect(await q1(`SELECT kind FROM public.events_default`)).toEqual([{ kind: "future" }]);
      expect(await q1(`SELECT has_table_privilege('${reader}', 'public.events', 'SELECT') AS ok`)).toEqual([{ ok: true }]);
      // A grant made after prepare reaches the partitioned table at the swap.
      await migrateRollback(session, spec(), "events", quiet);
      await q1(`GRANT INSERT ON public.events TO ${reader}`);
      await migrateRun(session, spec(), "events", quiet);
      expect(await q1(`SELECT has_table_privilege('${reader}', 'public.events', 'INSERT') AS ok`)).toEqual([{ ok: true }]);
      await migrateFinish(session, spec(), "events", quiet);
    } finally {
      await q1(`DROP OWNED BY ${reader}; DROP ROLE ${reader}`);
    }
  });
});
