// The CLI as a user runs it: a child `node` process in a project folder, its exit codes, its
// output, and the real database it changed (or did not).

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { destroyCluster, localClusterDir } from "../../infra/local/cluster";
import { eventsStack, projectDir as project, runCli as run } from "../helpers/cli";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { REPO_ROOT } from "../helpers/spec";

const ciStack = (jobName: string, retention = "30 days") => eventsStack({ jobName, retention });

describe("partman-stack CLI against a database URL", () => {
  let db: TestDatabase;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase({ partman: null });
    url = db.url;
    dir = project({ ci: ciStack(`partman-${db.name}`), broken: ciStack("x", "90 dayz"), shrink: ciStack(`partman-${db.name}`, "1 hour") });
  });

  afterAll(async () => {
    const c = new Client({ connectionString: url.replace(/\/[^/]*$/, "/postgres") });
    await c.connect();
    await c.query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await c.end();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("plan exits 2 with the changes and their SQL, apply exits 0, and plan then exits 0", async () => {
    const plan = await run(dir, ["plan", "--stack", "ci", "--database-url", url]);
    expect(plan.stderr).toBe("");
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain("+ create table public.events from sql/tables/events.sql");
    expect(plan.stdout).toMatch(/CREATE TABLE public\.events \(/);
    expect(plan.stdout).toContain(`SELECT "partman".create_parent(p_parent_table => 'public.events'`);
    expect(plan.stdout).toMatch(/Plan: \d+ change\(s\) in 4 transaction\(s\)\./);

    const json = await run(dir, ["plan", "--stack", "ci", "--database-url", url, "--json"]);
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.steps.map((s: { action: string }) => s.action)).toContain("create-parent");
    expect(parsed.problems).toEqual([]);

    const apply = await run(dir, ["apply", "--stack", "ci", "--database-url", url]);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/Applied \d+ change\(s\) in 4 transaction\(s\)\./);

    const again = await run(dir, ["plan", "--stack", "ci", "--database-url", url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`No changes: database ${db.name} matches stack ci.`);
  });

  it("status reports partitions, default rows, coverage, retention and the job", async () => {
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

  it("verify exits 0 on a healthy database and 1 on drift, with --json; plan --format markdown renders a PR comment", async () => {
    const healthy = await run(dir, ["verify", "--stack", "ci", "--database-url", url]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/✓ pruning public\.events: a query on created_at within/);
    expect(healthy.stdout).toContain("OK with 1 warning(s).");
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
    expect(shrink.stdout).toMatch(/> - table public\.events: retention "30 days" → "1 hour" makes maintenance DROP \d+ partition\(s\)/);
    // Blocked: exit 3, that table left as it was.
    const refused = await run(dir, ["apply", "--stack", "shrink", "--database-url", url]);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/✗ blocked: table public\.events: retention "30 days" → "1 hour" makes maintenance DROP/);
    expect(refused.stdout).toMatch(/Applied 0 change\(s\) in 0 transaction\(s\); 1 not applied/);
    expect((await run(dir, ["plan", "--stack", "ci", "--database-url", url])).code).toBe(0);
    expect((await run(dir, ["plan", "--stack", "ci", "--database-url", url, "--format", "yaml"])).code).toBe(1);
  });

  it("rejects a malformed stack with exit 1 before connecting, naming stack, table and value", async () => {
    const r = await run(dir, ["plan", "--stack", "broken", "--database-url", "postgres://nobody@127.0.0.1:1/none"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`stack "broken"`);
    expect(r.stderr).toContain("public.events");
    expect(r.stderr).toContain("90 dayz");
    expect(r.stdout).toBe("");
  });

  it("names the stacks that exist when the stack file is missing, and exits 1 on unknown commands", async () => {
    const missing = await run(dir, ["plan", "--stack", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Pulumi\.nope\.yaml/);
    const unknown = await run(dir, ["frobnicate"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`unknown command "frobnicate"`);
  });
});

describe("partman-stack CLI on the embedded local cluster", () => {
  let dir: string;
  afterAll(async () => {
    await destroyCluster(localClusterDir(dir));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("apply --stack local starts the cluster, reconciles the shipped local stack, and status shows it", async () => {
    dir = project({ local: fs.readFileSync(path.join(REPO_ROOT, "stacks/Pulumi.local.yaml"), "utf8") });
    const apply = await run(dir, ["apply", "--stack", "local"]);
    expect(apply.stderr).not.toMatch(/^error/m);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain("register public.events with pg_partman");

    const plan = await run(dir, ["plan", "--stack", "local"]);
    expect(plan.code).toBe(0);

    const st = JSON.parse((await run(dir, ["status", "--stack", "local", "--json"])).stdout);
    expect(st.tables.map((t: { name: string; state: string }) => `${t.name}:${t.state}`)).toEqual(["public.events:managed", "public.audit_log:managed"]);
    // The local cluster keeps pg_cron in the stack's own database.
    expect(st.cronDatabase).toBe(st.database);
    expect(st.job.jobname).toBe("partman-maintenance");

    const url = await run(dir, ["local", "url"]);
    expect(url.code).toBe(0);
    expect(url.stdout.trim()).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/partman_stack$/);
    const stop = await run(dir, ["local", "stop"]);
    expect(stop.code).toBe(0);
  });
});
