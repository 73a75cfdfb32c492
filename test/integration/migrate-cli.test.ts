// `partman-stack migrate` as users run it, against real databases with a writer inserting,
// updating and deleting throughout: a million-row table, kill -9 at several points and resume,
// and uuid keys. After finish, the table's contents equal what the writer's mirror says they must be.
// With each pg_partman major: the swap's lock under writers that hold long transactions and behind
// a session idle in a transaction, and a DDL file with unqualified names.

import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Client } from "pg";
import { eventsStack, projectDir, runCli } from "../helpers/cli";
import { availablePartman, createTestDatabase, onServer, PARTMAN_VERSIONS, queryRows, type TestDatabase } from "../helpers/database";
import { contents, createLiveEvents, startWriter } from "../helpers/live-table";
import { REPO_ROOT } from "../helpers/spec";

describe(onServer("partman-stack migrate"), () => {
  let db: TestDatabase;
  let dir: string;
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(dir, [...args, "--stack", "ci", "--database-url", db.url], env);
  const relkind = async () => (await queryRows(db.url, `SELECT relkind::text AS k FROM pg_class WHERE oid = 'public.events'::regclass`))[0].k;

  afterEach(async () => {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("a million-row table under write load", () => {
    beforeEach(async () => {
      db = await createTestDatabase({ partman: availablePartman("5.2.4") });
      dir = projectDir({ ci: eventsStack({ jobName: `partman-${db.name}` }) });
    });

    it("copies, reports progress and status, swaps, and finishes with every write in place", { timeout: 600_000 }, async () => {
      await createLiveEvents(db.url, 1_000_000);
      const writer = await startWriter(db.url);

      const running = runCli(dir, ["migrate", "run", "events", "--stack", "ci", "--database-url", db.url, "--batch-size", "50000"]);
      let seen: { phase: string; rowsCopied: number; rowsRemaining: number; rowsPerSecond: number } | null = null;
      for (let i = 0; i < 600 && !seen; i++) {
        const s = JSON.parse((await cli(["migrate", "status", "events", "--json"])).stdout);
        if (s.phase === "copying" && s.rowsCopied > 0) seen = s;
        else await new Promise((r) => setTimeout(r, 200));
      }
      expect(seen).toMatchObject({ phase: "copying", rowsRemaining: expect.any(Number), rowsPerSecond: expect.any(Number) });
      expect(seen!.rowsCopied + seen!.rowsRemaining).toBeGreaterThanOrEqual(900_000);

      const run = await running;
      expect(run.stderr).not.toMatch(/^error/m);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/^copy: [\d,]+\/[\d,]+ rows \(\d+%\), [\d,]+ rows\/s, ETA .*, [\d,]+ captured change\(s\) pending$/m);
      expect(run.stdout).toMatch(/public\.events is now partitioned: [\d,]+ rows copied, [\d,]+ captured change\(s\) replayed\./);
      expect(run.stdout).toMatch(/swap: writers waited at most \d+ ms/);
      expect(await relkind()).toBe("p");

      await new Promise((r) => setTimeout(r, 500));
      const counts = await writer.stop();
      expect(counts.errors).toEqual([]);
      expect(counts.updates).toBeGreaterThan(0);
      expect(counts.deletes).toBeGreaterThan(0);
      const final = await contents(db.url, "public.events");
      expect(final.rows).toBeGreaterThan(1_000_000);
      expect(final).toEqual(await contents(db.url, "public.expected"));

      const unconfirmed = await cli(["migrate", "finish", "events"]);
      expect(unconfirmed.code).toBe(1);
      expect(unconfirmed.stdout).toContain(`pg_dump --format=custom --table='public.events_retired'`);
      expect(unconfirmed.stderr).toContain("not confirmed: nothing dropped (pass --yes when not on a terminal)");
      const finished = await cli(["migrate", "finish", "events", "--yes"]);
      expect(finished.code).toBe(0);
      expect(finished.stdout).toContain("public.events_retired dropped");
      expect((await cli(["migrate", "status", "events"])).stdout).toBe("no migration of public.events in progress\n");
      expect(await contents(db.url, "public.events")).toEqual(final);
    });
  });

  describe("killed with kill -9 at several points", () => {
    beforeEach(async () => {
      db = await createTestDatabase({ partman: availablePartman("4.7.2") });
      dir = projectDir({ ci: eventsStack({ jobName: `partman-${db.name}` }) });
    });

    it("resumes each time from what the database recorded, with no duplicates or gaps", { timeout: 300_000 }, async () => {
      await createLiveEvents(db.url, 60_000);
      const writer = await startWriter(db.url);
      const run = (failpoint?: string) => cli(["migrate", "run", "events", "--batch-size", "5000"], failpoint ? { PARTMAN_STACK_FAILPOINT: failpoint } : {});
      const status = async () => JSON.parse((await cli(["migrate", "status", "events", "--json"])).stdout);

      expect((await run("prepare-before-commit")).signal).toBe("SIGKILL");
      expect((await status()).phase).toBe("none");

      expect((await run("copy-batch-before-commit:3")).signal).toBe("SIGKILL");
      expect(await status()).toMatchObject({ phase: "copying", rowsCopied: 10_000 });

      expect((await run("replay-before-commit:2")).signal).toBe("SIGKILL");
      const mid = await status();
      expect(mid.phase).toBe("copying");
      expect(mid.rowsCopied).toBeGreaterThan(10_000);

      expect((await run("swap-before-commit")).signal).toBe("SIGKILL");
      expect(await status()).toMatchObject({ phase: "catching-up" });
      expect(await relkind()).toBe("r");

      const done = await run();
      expect(done.stderr).not.toMatch(/^error/m);
      expect(done.code).toBe(0);
      expect(await relkind()).toBe("p");

      await new Promise((r) => setTimeout(r, 300));
      expect((await writer.stop()).errors).toEqual([]);
      expect(await contents(db.url, "public.events")).toEqual(await contents(db.url, "public.expected"));
      expect((await cli(["migrate", "finish", "events", "--yes"])).code).toBe(0);
    });
  });

  describe("uuid primary keys", () => {
    beforeEach(async () => {
      db = await createTestDatabase({ partman: availablePartman("5.2.4") });
      const ddl = fs.readFileSync(path.join(REPO_ROOT, "sql/tables/events.sql"), "utf8").replace("bigint      GENERATED BY DEFAULT AS IDENTITY", "uuid        DEFAULT gen_random_uuid()");
      dir = projectDir({ ci: eventsStack({ jobName: `partman-${db.name}` }) }, { "sql/tables/events.sql": ddl });
    });

    it("migrates a uuid-keyed table under write load", { timeout: 180_000 }, async () => {
      await createLiveEvents(db.url, 20_000, "uuid");
      const writer = await startWriter(db.url);
      const r = await cli(["migrate", "run", "events", "--batch-size", "3000", "--sleep", "10"]);
      expect(r.stderr).not.toMatch(/^error/m);
      expect(r.code).toBe(0);
      await new Promise((res) => setTimeout(res, 300));
      expect((await writer.stop()).errors).toEqual([]);
      expect(await contents(db.url, "public.events")).toEqual(await contents(db.url, "public.expected"));
      expect((await cli(["migrate", "finish", "events", "--yes"])).code).toBe(0);
    });
  });

  it("--dry-run prints SQL and exits 0; bad arguments exit 1", async () => {
    db = await createTestDatabase({ partman: availablePartman("5.2.4") });
    dir = projectDir({ ci: eventsStack({ jobName: `partman-${db.name}` }) });
    await createLiveEvents(db.url, 100);
    const dry = await cli(["migrate", "run", "events", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("-- dry run: the statements migrate run would execute for events; nothing is changed");
    expect(dry.stdout).toContain(`SELECT * FROM partman_stack.lock_in_order(ARRAY['"public"."events"', '"partman_migrate"."events_changes"', '"partman_migrate"."events"']::regclass[], '2000 ms', '300000 ms', 'ACCESS EXCLUSIVE');`);
    expect(await relkind()).toBe("r");
    expect((await cli(["migrate", "run", "events", "--batch-size", "0"])).stderr).toContain("--batch-size 0 must be a whole number ≥ 1");
    // Lock limits are checked before anything runs.
    const refused = async (args: string[], message: string) => {
      const r = await cli(["migrate", "run", "events", ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
    };
    await refused(["--max-stall", "5"], "--max-stall 5 must be a whole number of milliseconds from 10 to 60000: the longest one attempt at a lock may hold up the table's readers and writers (default 2000)");
    await refused(["--max-stall", "2s"], "--max-stall 2s must be a whole number of milliseconds");
    await refused(["--max-lock-wait", "1000"], "--max-lock-wait 1000 must be a whole number of milliseconds from --max-stall (2000) to 3600000");
    await refused(["--lock-timeout", "300", "--max-stall", "300"], "--lock-timeout is the deprecated name of --max-stall: give --max-stall only");
    expect(await relkind()).toBe("r");
    const old = await cli(["migrate", "run", "events", "--dry-run", "--lock-timeout", "300"]);
    expect(old.code).toBe(0);
    expect(old.stderr).toContain("--lock-timeout is deprecated: it is now --max-stall");
    expect(old.stdout).toContain(`::regclass[], '300 ms', '300000 ms', 'ACCESS EXCLUSIVE');`);
    const unknown = await cli(["migrate", "run", "sessions"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("table sessions is not declared in stack ci (declared: public.events)");
  });

  describe.each(PARTMAN_VERSIONS)(onServer("with pg_partman %s"), (version) => {
    const stack = (ddl?: string) => eventsStack({ jobName: `partman-${db.name}`, ddl, partmanVersion: version });
    const query = (sql: string) => queryRows(db.url, sql);
    beforeEach(async () => {
      db = await createTestDatabase({ partman: version });
    });

    it(`swaps with the default lock options while writers hold 300 ms transactions back to back (pg_partman ${version})`, { timeout: 180_000 }, async () => {
      dir = projectDir({ ci: stack() });
      await createLiveEvents(db.url, 20_000);
      // Four writers, staggered: at any moment several transactions hold the table, each for longer
      // than the first lock attempts wait.
      const writers = [];
      for (let i = 0; i < 4; i++) {
        writers.push(await startWriter(db.url, { holdMs: 300 }));
        await new Promise((r) => setTimeout(r, 80));
      }
      await new Promise((r) => setTimeout(r, 500));
      const run = await cli(["migrate", "run", "events", "--batch-size", "5000"]);
      expect(run.stderr).not.toMatch(/^error/m);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/swap: writers waited at most \d+ ms \(lock taken after \d+ ms in \d+ attempt\(s\), held \d+ ms\)/);
      await new Promise((r) => setTimeout(r, 500));
      const counts = await Promise.all(writers.map((w) => w.stop()));
      for (const c of counts) expect(c.errors).toEqual([]);
      expect(counts.reduce((n, c) => n + c.inserts + c.updates + c.deletes, 0)).toBeGreaterThan(20);
      // The default --max-stall is 2000 ms; a writer may also wait for another's row lock (300 ms).
      expect(Math.max(...counts.map((c) => c.maxStallMs))).toBeLessThan(2_500);
      expect(await relkind()).toBe("p");
      expect(await contents(db.url, "public.events")).toEqual(await contents(db.url, "public.expected"));
    });

    it(`gives the swap up within --max-lock-wait behind a session idle in a transaction, naming it and changing nothing, and swaps once it ends (pg_partman ${version})`, { timeout: 120_000 }, async () => {
      dir = projectDir({ ci: stack() });
      await createLiveEvents(db.url, 5_000);
      const before = await contents(db.url, "public.events");
      const idle = new Client({ connectionString: db.url, application_name: "nightly-report" });
      await idle.connect();
      try {
        await idle.query(`BEGIN; SELECT count(*) FROM public.events`);
        const pid = (await idle.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
        const run = await cli(["migrate", "run", "events", "--max-stall", "100", "--max-lock-wait", "3000"]);
        expect(run.code).toBe(1);
        const refusal = /swap: public\.events stayed locked by pid (\d+) \(nightly-report[^)]*\) for all of --max-lock-wait \((\d+) ms, \d+ attempt\(s\) of at most 100 ms\); nothing changed\. End that transaction \(or wait for it\) and run migrate run again, or give it longer with --max-lock-wait/.exec(run.stderr);
        expect(refusal, run.stderr).not.toBeNull();
        expect(Number(refusal![1])).toBe(pid);
        expect(Number(refusal![2])).toBeGreaterThanOrEqual(3000);
        expect(Number(refusal![2])).toBeLessThan(3500);
        expect(await relkind()).toBe("r");
        expect(JSON.parse((await cli(["migrate", "status", "events", "--json"])).stdout).phase).toBe("catching-up");
        expect(await contents(db.url, "public.events")).toEqual(before);
      } finally {
        await idle.end();
      }
      const done = await cli(["migrate", "run", "events"]);
      expect(done.stderr).not.toMatch(/^error/m);
      expect(done.code).toBe(0);
      expect(await relkind()).toBe("p");
      expect(await contents(db.url, "public.events")).toEqual(before);
    });

    it(`builds a DDL file's unqualified indexes and comments on the copy, never on the live table (pg_partman ${version})`, { timeout: 120_000 }, async () => {
      const ddl = fs.readFileSync(path.join(REPO_ROOT, "sql/tables/events.sql"), "utf8").replace(/ ON public\.events /g, " ON events ") + "COMMENT ON TABLE events IS 'partitioned by partman-stack';\n";
      expect(ddl).toContain("CREATE INDEX events_kind_created_at_idx ON events (kind, created_at);");
      dir = projectDir({ ci: stack("sql/tables/events_unqualified.sql") }, { "sql/tables/events_unqualified.sql": ddl });
      await createLiveEvents(db.url, 20_000);
      const indexes = (table: string) => query(`SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = '${table}'::regclass ORDER BY 1`);
      const comment = async (table: string) => (await query(`SELECT obj_description('${table}'::regclass, 'pg_class') AS c`))[0].c;
      const live = await indexes("public.events");

      // Killed right after prepare committed.
      expect((await cli(["migrate", "run", "events", "--batch-size", "5000"], { PARTMAN_STACK_FAILPOINT: "copy-batch-before-commit" })).signal).toBe("SIGKILL");
      expect(await indexes("public.events")).toEqual(live);
      expect(await comment("public.events")).toBeNull();
      const copy = (await indexes("partman_migrate.events")).map((r) => r.def);
      for (const ix of ["events_run_id_created_at_idx", "events_agent_id_created_at_idx", "events_kind_created_at_idx"]) {
        expect(copy).toContainEqual(expect.stringMatching(new RegExp(`^CREATE INDEX ${ix} ON ONLY partman_migrate\\.events `)));
      }
      expect(await comment("partman_migrate.events")).toBe("partitioned by partman-stack");

      const done = await cli(["migrate", "run", "events"]);
      expect(done.code).toBe(0);
      expect((await indexes("public.events")).map((r) => r.def)).toEqual(copy.map((d) => d.replace("partman_migrate.events", "public.events")));
      expect(await comment("public.events")).toBe("partitioned by partman-stack");
      // The original keeps its indexes; those whose names the partitioned table took are renamed.
      const retired = live.map((r) => ({ def: r.def.replace("ON public.events ", "ON public.events_retired ").replace(/(events_run_id_created_at_idx|events_pkey)/, "$1_retired") }));
      expect(await indexes("public.events_retired")).toEqual(retired);
    });
  });
});
