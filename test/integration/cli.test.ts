// The CLI as a user runs it: a child `node` process in a project folder, its exit codes, its
// output, and the real database it changed (or did not).

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { DATABASE_URL_ENV } from "../../infra/db/connection";
import { destroyCluster, localClusterDir } from "../../infra/local/cluster";
import { eventsStack, projectDir as project, runCli as run } from "../helpers/cli";
import { PG_MAJOR } from "../../infra/local/install";
import { versionAtLeast } from "../../infra/partman/version";
import { availablePartman, createTestDatabase, onServer, SERVER_MAJOR, type TestDatabase } from "../helpers/database";
import { REPO_ROOT } from "../helpers/spec";

const ciStack = (jobName: string, retention = "30 days") => eventsStack({ jobName, retention });

// The stack files below install pg_partman 5.2.4 (the newest the server has, when it lacks 5.2.4)
// into a database without it.
const version = availablePartman("5.2.4");

describe("partman-stack commands, options and help", () => {
  it("each command has its own options, help and exit codes; unknown or misplaced options and commands are usage errors", async () => {
    const dir = project({});
    try {
      const [top, plan, migrateRun, local, none, misplaced, notStatus, unknown, stackless, noTable] = await Promise.all(
        [["--help"], ["plan", "--help"], ["migrate", "run", "--help"], ["local", "url", "--help"], [], ["plan", "--batch-size", "5"], ["status", "--fix"], ["frobnicate"], ["local", "url", "--stack", "ci"], ["archive", "--to", "x"]].map((args) => run(dir, args)),
      );
      expect(top.code).toBe(0);
      for (const c of ["plan", "apply", "verify", "status", "migrate", "archive", "local"]) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, "m"));

      expect(plan.code).toBe(0);
      expect(plan.stdout).toMatch(/^Usage: partman-stack plan \[options\]/);
      expect(plan.stdout).toContain("--format <format>");
      expect(plan.stdout).toContain("--database-url <url>");
      expect(plan.stdout).not.toContain("--batch-size");
      expect(plan.stdout).toMatch(/Exit codes:\n  0  in sync: nothing to change\n  2  changes pending\n  1  error/);

      expect(migrateRun.code).toBe(0);
      expect(migrateRun.stdout).toMatch(/^Usage: partman-stack migrate run \[options\] <table>/);
      for (const o of ["--batch-size <rows>", "--sleep <ms>", "--max-stall <ms>", "--max-lock-wait <ms>", "--dry-run", "--json"]) expect(migrateRun.stdout).toContain(o);
      expect(migrateRun.stdout).not.toContain("--yes");
      expect(migrateRun.stdout).not.toContain("--format");

      // Every command that connects documents the environment it reads.
      const helps = await Promise.all(
        [["apply"], ["verify"], ["status"], ["migrate", "run"], ["migrate", "status"], ["migrate", "rollback"], ["migrate", "finish"], ["archive"]].map((c) => run(dir, [...c, "--help"])),
      );
      for (const h of [plan, ...helps]) {
        expect(h.stdout).toMatch(/\nEnvironment:\n  PARTMAN_STACK_DATABASE_URL  the database URL when --database-url is not given; unlike an argument,\n +it is not shown to other local users \(ps, \/proc\/<pid>\/cmdline\)\n  PGPASSWORD  /);
      }

      expect(local.code).toBe(0);
      expect(local.stdout).not.toContain("--stack");
      expect(local.stdout).toContain("1  error, or the cluster is not running");

      // No command: the usage, and exit 1.
      expect(none.code).toBe(1);
      expect(none.stderr).toContain("Usage: partman-stack [options] [command]");

      expect(misplaced.code).toBe(1);
      expect(misplaced.stdout).toBe("");
      expect(misplaced.stderr).toMatch(/^error: unknown option '--batch-size'\n\nUsage: partman-stack plan \[options\]/);
      expect(misplaced.stderr).toContain("Exit codes:");

      expect(notStatus.code).toBe(1);
      expect(notStatus.stderr).toMatch(/^error: unknown option '--fix'\n\nUsage: partman-stack status \[options\]/);

      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^error: unknown command 'frobnicate'\n\nUsage: partman-stack \[options\] \[command\]/);

      expect(stackless.code).toBe(1);
      expect(stackless.stderr).toMatch(/^error: unknown option '--stack'\n\nUsage: partman-stack local url/);

      expect(noTable.code).toBe(1);
      expect(noTable.stderr).toMatch(/^error: missing required argument 'table'\n\nUsage: partman-stack archive \[options\] <table>/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(onServer("partman-stack CLI against a database URL"), () => {
  let db: TestDatabase;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase({ partman: null });
    // As the README advises: the password in PGPASSWORD (test/setup.ts), not in the arguments.
    const u = new URL(db.url);
    u.password = "";
    url = u.toString();
    dir = project({ ci: ciStack(`partman-${db.name}`), broken: ciStack("x", "90 dayz"), shrink: ciStack(`partman-${db.name}`, "1 hour") });
  });

  afterAll(async () => {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`pg_partman ${version}: plan exits 2 with the changes and their SQL; apply exits 0, with its progress on stderr and a summary of what ran on stdout; plan then exits 0`, async () => {
    const plan = await run(dir, ["plan", "--stack", "ci", "--database-url", url]);
    expect(plan.stderr).toBe("");
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain("+ create table public.events from sql/tables/events.sql");
    expect(plan.stdout).toMatch(/CREATE TABLE public\.events \(/);
    expect(plan.stdout).toContain(`SELECT "partman".${versionAtLeast(version, "5.4.0") ? "create_partition" : "create_parent"}(p_parent_table => 'public.events'`);
    expect(plan.stdout).toMatch(/Plan: \d+ change\(s\) in 4 transaction\(s\)\./);

    const json = await run(dir, ["plan", "--stack", "ci", "--database-url", url, "--json"]);
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.steps.map((s: { action: string }) => s.action)).toContain("create-parent");
    expect(parsed.problems).toEqual([]);

    const apply = await run(dir, ["apply", "--stack", "ci", "--database-url", url]);
    expect(apply.code).toBe(0);
    // Progress while it runs: each transaction and step as it starts and ends, with its time.
    expect(apply.stderr).toMatch(
      new RegExp(`^table public\\.events \\(database ${db.name}\\): \\d+ change\\(s\\) in one transaction\n  … create table public\\.events from sql/tables/events\\.sql\n    done in \\d+ ms\n`, "m"),
    );
    expect(apply.stderr).toMatch(/^  ✓ committed in \d+(\.\d)? m?s$/m);
    expect(apply.stderr).toMatch(/^  … run maintenance for public\.events .*\n    done in \d+(\.\d)? m?s: \d+ partition\(s\) created, 0 expired/m);
    // Then what ran, per unit, without the SQL that plan printed before (--json has it).
    expect(apply.stdout).toMatch(/^  ✓ table public\.events: applied in \d+(\.\d)? m?s\n      \+ create table public\.events from sql\/tables\/events\.sql$/m);
    expect(apply.stdout).toMatch(/^      > maintenance of public\.events: \d+ partition\(s\) created, 0 expired/m);
    expect(apply.stdout).toMatch(/Applied \d+ change\(s\) in 4 transaction\(s\)\./);
    expect(apply.stdout).not.toMatch(/CREATE TABLE|create_parent\(|cron\.schedule/);

    const again = await run(dir, ["plan", "--stack", "ci", "--database-url", url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`No changes: database ${db.name} matches stack ci.`);
  });

  it(`pg_partman ${version}: a password in --database-url is warned about on stderr, naming ${DATABASE_URL_ENV} and PGPASSWORD; ${DATABASE_URL_ENV} alone connects, its password unseen in the arguments`, async () => {
    const warning = `warning: --database-url carries a password, which every local user can read while the command runs (ps, /proc/<pid>/cmdline): put the URL in ${DATABASE_URL_ENV}, or the password in PGPASSWORD, instead\n`;
    const connected = (r: { code: number | null; stdout: string }) => expect([r.code, r.stdout]).toEqual([expect.toBeOneOf([0, 2]), expect.stringContaining(`database ${db.name}`)]);
    const inArgs = await run(dir, ["plan", "--stack", "ci", "--database-url", db.url]);
    connected(inArgs);
    expect(inArgs.stderr).toBe(warning);
    const asParameter = await run(dir, ["status", "--stack", "ci", "--database-url", `${url}?password=${encodeURIComponent(new URL(db.url).password)}`]);
    expect(asParameter.stderr).toBe(warning);

    // The URL's own password, not PGPASSWORD's, and nothing on the command line.
    const fromEnv = await run(dir, ["plan", "--stack", "ci"], { [DATABASE_URL_ENV]: db.url, PGPASSWORD: "" });
    connected(fromEnv);
    expect(fromEnv.stderr).toBe("");
    // The flag wins over the variable.
    const both = await run(dir, ["plan", "--stack", "ci", "--database-url", url], { [DATABASE_URL_ENV]: "postgres://nobody@127.0.0.1:1/none" });
    connected(both);
    expect(both.stderr).toBe("");
  });

  it(`pg_partman ${version}: status reports partitions, default rows, coverage, retention and the job`, async () => {
    const text = await run(dir, ["status", "--stack", "ci", "--database-url", url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/public\.events: 1 day partitions, premake 3, retention 30 days/);
    expect(text.stdout).toMatch(/events_p\d{8}\s+\d{4}-\d\d-\d\d 00:00/);
    expect(text.stdout).toContain("default partition: 0 row(s)");
    expect(text.stdout).toContain(`Maintenance job partman-${db.name}`);
    expect(text.stdout).toContain("last run: none recorded yet");

    const json = JSON.parse((await run(dir, ["status", "--stack", "ci", "--database-url", url, "--json"])).stdout);
    const events = json.tables[0];
    expect(events.state).toBe("managed");
    expect(events.partitionsAhead).toBeGreaterThanOrEqual(3);
    expect(events.partitions.filter((p: { isDefault: boolean }) => !p.isDefault).length).toBeGreaterThanOrEqual(4);
    expect(Date.parse(events.retentionHorizon)).toBeLessThan(Date.now() - 29 * 86_400_000);
    expect(json.job.schedule).toBe("0 * * * *");
  });

  it(`pg_partman ${version}: status counts small partitions exactly before any ANALYZE, and says which big ones are not analyzed yet`, async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      const partition = async (at: string) =>
        (await c.query<{ name: string }>(`SELECT tableoid::regclass::text AS name FROM public.events WHERE created_at = ${at} LIMIT 1`)).rows[0].name;
      await c.query(`INSERT INTO public.events (run_id, kind) SELECT gen_random_uuid(), 'small' FROM generate_series(1, 37)`);
      const small = await partition("(SELECT max(created_at) FROM public.events)");
      // Over EXACT_COUNT_MAX_BYTES (10 MB) of heap in tomorrow's partition, kept away from autovacuum's ANALYZE.
      const tomorrow = "date_trunc('day', now()) + interval '1 day 1 hour'";
      await c.query(`INSERT INTO public.events (run_id, kind, created_at) VALUES (gen_random_uuid(), 'probe', ${tomorrow})`);
      const big = await partition(tomorrow);
      await c.query(`ALTER TABLE ${big} SET (autovacuum_enabled = false)`);
      await c.query(
        `INSERT INTO public.events (run_id, kind, created_at)
         SELECT gen_random_uuid(), (SELECT string_agg(md5(g || '-' || i || random()), '') FROM generate_series(1, 20) AS i), ${tomorrow}
           FROM generate_series(1, 18000) AS g`,
      );
      expect((await c.query(`SELECT pg_relation_size('${big}') > 10485760 AS over`)).rows[0].over).toBe(true);

      const json = JSON.parse((await run(dir, ["status", "--stack", "ci", "--database-url", url, "--json"])).stdout);
      const parts: { name: string; rows: number | null; rowsExact: boolean }[] = json.tables[0].partitions;
      const byName = (name: string) => parts.find((p) => `public.${p.name}` === name || p.name === name)!;
      expect(byName(small)).toMatchObject({ rows: 37, rowsExact: true });
      expect(byName(big)).toMatchObject({ rows: null, rowsExact: false });
      // Empty partitions made ahead, never analyzed: 0, exactly.
      expect(parts.filter((p) => p.name !== byName(small).name && p.name !== byName(big).name).every((p) => p.rows === 0 && p.rowsExact)).toBe(true);

      const text = await run(dir, ["status", "--stack", "ci", "--database-url", url]);
      expect(text.stdout).toMatch(/  PARTITION\s+FROM\s+TO\s+SIZE\s+ROWS\n/);
      expect(text.stdout).toMatch(new RegExp(`^  ${byName(small).name} .* 37$`, "m"));
      expect(text.stdout).toMatch(new RegExp(`^  ${byName(big).name} .* not analyzed$`, "m"));
      expect(text.stdout).not.toMatch(/ \?$/m);
      expect(text.stdout).toContain("ROWS: counted exactly for partitions up to 10.0 MB; ~ an estimate from the last ANALYZE");

      await c.query(`ANALYZE ${big}`);
      const analyzed = JSON.parse((await run(dir, ["status", "--stack", "ci", "--database-url", url, "--json"])).stdout).tables[0].partitions.find((p: { name: string }) => p.name === byName(big).name);
      expect(analyzed.rowsExact).toBe(false);
      expect(analyzed.rows).toBeGreaterThan(15_000);
      expect((await run(dir, ["status", "--stack", "ci", "--database-url", url])).stdout).toMatch(new RegExp(`^  ${analyzed.name} .* ~[\\d,]+$`, "m"));
    } finally {
      await c.end();
    }
  });

  it(`pg_partman ${version}: verify exits 0 on a healthy database and 1 on drift, with --json; plan --format markdown renders a PR comment`, async () => {
    const healthy = await run(dir, ["verify", "--stack", "ci", "--database-url", url]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/✓ pruning public\.events: a query on created_at within/);
    expect(healthy.stdout).toMatch(/^✓ public\.events: query "run-events-in-window" \(sql\/queries\/public\.events\/run-events-in-window\.sql\): custom plan scans 1 /m);
    // The job has not run yet; a release before 5.5.0 is warned about too.
    expect(healthy.stdout).toContain(`OK with ${versionAtLeast(version, "5.5.0") ? 1 : 2} warning(s).`);
    const c = new Client({ connectionString: url });
    await c.connect();
    await c.query(`UPDATE partman.part_config SET premake = 1 WHERE parent_table = 'public.events'`);
    const drift = await run(dir, ["verify", "--stack", "ci", "--database-url", url, "--json"]);
    expect(drift.code).toBe(1);
    expect(JSON.parse(drift.stdout).checks.filter((x: { status: string }) => x.status === "fail").map((x: { check: string }) => x.check)).toEqual(["config"]);

    const md = await run(dir, ["plan", "--stack", "ci", "--database-url", url, "--format", "markdown"]);
    expect(md.code).toBe(2);
    expect(md.stdout).toContain("### partman-stack plan: stack `ci` → database `" + db.name + "`");
    expect(md.stdout).toContain("| **table public.events** | set premake 1 → 3<br>run maintenance for public.events so premake and retention take effect now (after the changes above commit; parent locked first, within maintenance.lockTimeout per attempt and maxLockWait in all) |");
    expect(md.stdout).toContain("```sql\n-- table public.events\nUPDATE \"partman\".part_config SET premake = 3");
    await c.query(`UPDATE partman.part_config SET premake = 3 WHERE parent_table = 'public.events'`);
    await c.end();

    const shrink = await run(dir, ["plan", "--stack", "shrink", "--database-url", url, "--format", "markdown"]);
    expect(shrink.code).toBe(1);
    expect(shrink.stdout).toContain("> [!CAUTION]");
    // The partitions it would drop are empty and small: counted, not "unknown".
    expect(shrink.stdout).toMatch(/> - table public\.events: retention "30 days" → "1 hour" makes maintenance DROP \d+ partition\(s\) holding 0 rows, /);
    expect(shrink.stdout).not.toContain("rows unknown");
    // Blocked: exit 3, that table left as it was.
    const refused = await run(dir, ["apply", "--stack", "shrink", "--database-url", url]);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/✗ blocked: table public\.events: retention "30 days" → "1 hour" makes maintenance DROP/);
    expect(refused.stdout).toMatch(/Applied 0 change\(s\) in 0 transaction\(s\); 1 not applied/);
    expect((await run(dir, ["plan", "--stack", "ci", "--database-url", url])).code).toBe(0);
    const yaml = await run(dir, ["plan", "--stack", "ci", "--database-url", url, "--format", "yaml"]);
    expect(yaml.code).toBe(1);
    expect(yaml.stderr).toMatch(/^error: option '--format <format>' argument 'yaml' is invalid\. Allowed choices are text, json, markdown\.\n\nUsage: partman-stack plan/);
  });

  it("rejects a malformed stack with exit 1 before connecting, naming stack, table and value", async () => {
    const r = await run(dir, ["plan", "--stack", "broken", "--database-url", "postgres://nobody@127.0.0.1:1/none"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`stack "broken"`);
    expect(r.stderr).toContain("public.events");
    expect(r.stderr).toContain("90 dayz");
    expect(r.stdout).toBe("");
  });

  it("names the stacks that exist when the stack file is missing", async () => {
    const missing = await run(dir, ["plan", "--stack", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Pulumi\.nope\.yaml/);
  });
});

// The embedded local stack always runs on this machine's PostgreSQL 15: the PostgreSQL 15 run tests it.
describe.runIf(SERVER_MAJOR === PG_MAJOR)("partman-stack CLI on the embedded local cluster", () => {
  const localStack = fs.readFileSync(path.join(REPO_ROOT, "stacks/Pulumi.local.yaml"), "utf8");
  const localVersion = /partmanVersion: "([^"]+)"/.exec(localStack)![1];
  let dir: string;
  afterAll(async () => {
    await destroyCluster(localClusterDir(dir));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`pg_partman ${localVersion}: apply --stack local starts the cluster, reconciles the shipped local stack, and status shows it`, async () => {
    dir = project({ local: localStack });
    const apply = await run(dir, ["apply", "--stack", "local"]);
    expect(apply.stderr).not.toMatch(/^error/m);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain("register public.events with pg_partman");

    const plan = await run(dir, ["plan", "--stack", "local"]);
    expect(plan.code).toBe(0);

    const st = JSON.parse((await run(dir, ["status", "--stack", "local", "--json"])).stdout);
    expect(st.tables.map((t: { name: string; state: string }) => `${t.name}:${t.state}`)).toEqual(["public.events:managed", "public.audit_log:managed", "public.job_log:managed", "public.user_events:managed", "public.campaign_participants:managed"]);
    // The 5.x stack's UUIDv7 table: a time set whose partitions are bounded by keys.
    const userEvents = st.tables.find((t: { name: string }) => t.name === "public.user_events");
    expect(userEvents).toMatchObject({ kind: "time", interval: "1 day", premake: 7 });
    expect(userEvents.partitionsAhead).toBeGreaterThanOrEqual(7);
    expect(Date.parse(userEvents.coveredUntil)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    // Its list set: a partition per campaign, each split by month.
    const campaigns = st.tables.find((t: { name: string }) => t.name === "public.campaign_participants");
    expect(campaigns).toMatchObject({ kind: "id", type: "list", premake: 3 });
    expect(campaigns.subpartitions.length).toBeGreaterThanOrEqual(4);
    // The local cluster keeps pg_cron in the stack's own database.
    expect(st.cronDatabase).toBe(st.database);
    expect(st.job.jobname).toBe("partman-maintenance");

    const url = await run(dir, ["local", "url"]);
    expect(url.code).toBe(0);
    expect(url.stdout.trim()).toMatch(/^postgres:\/\/postgres:[\w-]{32}@127\.0\.0\.1:\d+\/partman_stack$/);
    const stop = await run(dir, ["local", "stop"]);
    expect(stop.code).toBe(0);
  });
});
