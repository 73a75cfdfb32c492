// `partman-stack migrate` as users run it, against real databases with a writer inserting,
// updating and deleting throughout: a million-row table, kill -9 at several points and resume,
// and uuid keys. After finish, the table's contents equal what the writer's mirror says they must be.

import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Client } from "pg";
import { eventsStack, projectDir, runCli } from "../helpers/cli";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { contents, createLiveEvents, startWriter } from "../helpers/live-table";
import { REPO_ROOT } from "../helpers/spec";

describe("partman-stack migrate", () => {
  let db: TestDatabase;
  let dir: string;
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(dir, [...args, "--stack", "ci", "--database-url", db.url], env);
  const relkind = async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(`SELECT relkind::text AS k FROM pg_class WHERE oid = 'public.events'::regclass`)).rows[0].k;
    } finally {
      await c.end();
    }
  };

  afterEach(async () => {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("a million-row table under write load", () => {
    beforeEach(async () => {
      db = await createTestDatabase({ partman: "5.2.4" });
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
      db = await createTestDatabase({ partman: "4.7.2" });
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
      db = await createTestDatabase({ partman: "5.2.4" });
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
    db = await createTestDatabase({ partman: "5.2.4" });
    dir = projectDir({ ci: eventsStack({ jobName: `partman-${db.name}` }) });
    await createLiveEvents(db.url, 100);
    const dry = await cli(["migrate", "run", "events", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("-- dry run: the statements migrate run would execute for events; nothing is changed");
    expect(dry.stdout).toContain(`LOCK TABLE "public"."events" IN ACCESS EXCLUSIVE MODE;`);
    expect(await relkind()).toBe("r");
    expect((await cli(["migrate", "run", "events", "--batch-size", "0"])).stderr).toContain("--batch-size 0 must be a whole number ≥ 1");
    const unknown = await cli(["migrate", "run", "sessions"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("table sessions is not declared in stack ci (declared: public.events)");
  });
});

