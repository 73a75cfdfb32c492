// `pulumi up`, `preview` and `refresh` of the real program (Pulumi.yaml `main`, compiled by tsc) on
// the repo's prod stack (pg_partman 5.2.4), staging stack (4.7.2) and dev stack (5.2.4: id-range,
// UUIDv7 and list sets, one sub-partitioned by month), each aimed at a fresh database of
// the test cluster, run by the mini engine (engine.ts) in the order and with the concurrency of
// Pulumi's engine. After every `up`, the CLI must find nothing left to do.

import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { sharedBuild } from "../helpers/build";
import { runCli } from "../helpers/cli";
import { createTestDatabase, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import type { EngineReport, Step } from "./engine";
import { pulumi, removeStack, table, tables, testStack, writeStack, type StackFile } from "./run";

/** The repo's stacks each pg_partman runs them under. */
const RUNS = ([["5.2.4", "prod"], ["4.7.2", "staging"], ["5.2.4", "dev"]] as const).filter(([v]) => PARTMAN_VERSIONS.includes(v));
const TABLE = "pulumi-nodejs:dynamic/partman:PartitionedTable";
const TIMEOUT = { timeout: 120_000 };

async function query<T = Record<string, any>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** The program's resources are children of its PartmanDatabase "partman", named `partman-<child>`. */
const COMPONENT = "partman";
const child = (s: Step) => (s.name.startsWith(`${COMPONENT}-`) ? s.name.slice(COMPONENT.length + 1) : s.name);
/** A step as one readable line, so a failed assertion says what happened. */
const brief = (s: Step) => `${s.op} ${child(s)}${s.error ? `: ${s.error}` : ""}`;
const tableSteps = (r: EngineReport) => r.steps.filter((s) => s.type === TABLE);
const intervals = (steps: Step[]) => steps.map((s) => `${child(s)} [${s.start}, ${s.end}]`).join(", ");
const overlap = (steps: Step[]) => Math.max(...steps.map((s) => s.start)) < Math.min(...steps.map((s) => s.end));

const PARTITIONS = `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'analytics.page_views'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'`;
/** pg_partman's retention rule: a partition is dropped once its upper bound is older than now() − retention.
 *  Materialized so that the cast only ever sees page_views' bounds (the dev stack's user_events' are uuids). */
const EXPIRED = `WITH p AS MATERIALIZED (SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                                       WHERE i.inhparent = 'analytics.page_views'::regclass)
  SELECT relname FROM p WHERE bound <> 'DEFAULT' AND (regexp_match(bound, 'TO \\(''([^'']*)''\\)'))[1]::timestamptz < now() - $1::interval`;
const OWNERS = `SELECT c.oid::regclass::text AS rel, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
  WHERE c.relkind IN ('r', 'p')
    AND (c.oid IN (SELECT t.relid FROM unnest($1::text[]) n, pg_partition_tree(n::regclass) t)
         OR c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY($2::text[])))`;

describe.each(RUNS)("pulumi up of the real program, pg_partman %s, the %s stack", (version, base) => {
  const pgUrl = inject("pgUrl");
  let build: string;
  let db: TestDatabase;
  let stack: string;
  let doc: StackFile;
  let owner: string;

  const partitions = async () => (await query<{ relname: string }>(db.url, `${PARTITIONS} ORDER BY 1`)).map((r) => r.relname);
  /** premake from pg_partman's part_config, retention from partman-stack's (part_config's stays NULL). */
  const partConfig = async () =>
    Object.fromEntries(
      (
        await query(
          db.url,
          `SELECT c.parent_table, c.premake, r.retention, c.retention AS partman_retention
             FROM partman.part_config c LEFT JOIN partman_stack.retention r USING (parent_table)
            WHERE c.parent_table = ANY($1)`,
          [tables(doc).map((t) => t.name)],
        )
      ).map((r) => [r.parent_table, { premake: r.premake, retention: r.retention, partmanRetention: r.partman_retention }]),
    );
  // A stack file's integer retention (ids, values) is text in partman_stack.retention.
  const declaredConfig = () => Object.fromEntries(tables(doc).map((t) => [t.name, { premake: t.premake, retention: t.retention === undefined ? null : String(t.retention), partmanRetention: null }]));
  const save = () => writeStack(build, stack, doc);

  /** What every `up` must leave: the CLI in sync and healthy, one pg_cron job, everything owned by the owner role. */
  async function expectSettled() {
    const plan = await runCli(build, ["plan", "--stack", stack]);
    expect.soft(plan.code, `plan --stack ${stack}\n${plan.stdout}${plan.stderr}`).toBe(0);
    const verify = await runCli(build, ["verify", "--stack", stack]);
    expect.soft(verify.code, `verify --stack ${stack}\n${verify.stdout}${verify.stderr}`).toBe(0);
    const jobs = await query(pgUrl, "SELECT count(*)::int AS n FROM cron.job WHERE database = $1", [db.name]);
    expect.soft(jobs[0].n, "pg_cron jobs for the test database").toBe(1);
    const retentionSchemas = tables(doc).flatMap((t) => (t.retentionSchema ? [t.retentionSchema] : []));
    const rels = await query<{ rel: string; owner: string }>(db.url, OWNERS, [tables(doc).map((t) => t.name), retentionSchemas]);
    expect.soft(rels.length, "tables and partitions").toBeGreaterThan(tables(doc).length * 2);
    expect.soft(rels.filter((r) => r.owner !== owner)).toEqual([]);
  }

  beforeAll(async () => {
    build = sharedBuild();
    db = await createTestDatabase({ partman: null });
    stack = `e2e-${db.name}`;
    owner = `o_${db.name}`;
    doc = testStack(build, base, { port: Number(new URL(pgUrl).port), database: db.name, partmanVersion: version });
    save();
  });

  afterAll(async () => {
    if (!db) return;
    await query(pgUrl, "SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    const roles = (await query(pgUrl, "SELECT quote_ident(rolname) AS r FROM pg_roles WHERE rolname = ANY($1)", [[owner, `a_${db.name}`]])).map((x) => x.r);
    // One role at a time: DROP OWNED BY of both trips over the default ACL that involves both ("could not find tuple for default ACL").
    for (const url of [pgUrl, db.url]) for (const r of roles) await query(url, `DROP OWNED BY ${r}`);
    await db.drop();
    for (const r of roles) await query(pgUrl, `DROP ROLE ${r}`);
    removeStack(build, stack);
  });

  it(`a. a fresh up creates every resource, the tables concurrently (pg_partman ${version}, ${base} stack)`, TIMEOUT, async () => {
    const r = await pulumi(build, stack, "up");
    expect(r.errors).toEqual([]);
    expect(r.steps.filter((s) => s.op !== "create").map(brief)).toEqual([]);
    expect(r.steps.map(child)).toEqual(expect.arrayContaining([COMPONENT, "server-preflight", "pg_partman", "owner-role", "app-tables-public", "maintenance-job"]));
    const creates = tableSteps(r);
    expect(creates.map(brief).sort()).toEqual(tables(doc).map((t) => `create ${t.name}`).sort());
    expect(overlap(creates), intervals(creates)).toBe(true);
    await expectSettled();
  });

  it(`b. new retention on two tables and premake on the third update exactly those three, concurrently (pg_partman ${version}, ${base} stack)`, TIMEOUT, async () => {
    table(doc, "public.events").retention = "180 days";
    table(doc, "public.audit_log").retention = "18 months";
    table(doc, "analytics.page_views").premake = 5;
    save();
    const r = await pulumi(build, stack, "up");
    expect(r.errors).toEqual([]);
    expect(r.steps.filter((s) => s.op !== "same").map((s) => `${brief(s)} ${s.diff.map((d) => d.key)}`).sort()).toEqual([
      "update analytics.page_views premake",
      "update public.audit_log retention",
      "update public.events retention",
    ]);
    expect(overlap(tableSteps(r)), intervals(tableSteps(r))).toBe(true);
    expect(await partConfig()).toEqual(declaredConfig());
    await expectSettled();
  });

  it(`c. refresh reports a hand edit of part_config as drift of that table only, and up puts it back (pg_partman ${version}, ${base} stack)`, TIMEOUT, async () => {
    const premake = table(doc, "public.events").premake;
    await query(db.url, "UPDATE partman.part_config SET premake = 9 WHERE parent_table = 'public.events'");
    const refreshed = await pulumi(build, stack, "refresh");
    expect(refreshed.errors).toEqual([]);
    expect(refreshed.steps.map(brief).sort()).toEqual(
      ["maintenance-job", "server-preflight", ...tables(doc).map((t) => t.name)].map((n) => `read ${n}`).sort(),
    );
    expect(refreshed.steps.filter((s) => s.diff.length > 0).map((s) => ({ name: child(s), diff: s.diff }))).toEqual([
      { name: "public.events", diff: [{ key: "premake", old: premake, new: 9 }] },
    ]);

    const r = await pulumi(build, stack, "up");
    expect(r.errors).toEqual([]);
    expect(r.steps.filter((s) => s.op !== "same").map(brief)).toEqual(["update public.events"]);
    expect(await partConfig()).toEqual(declaredConfig());
    await expectSettled();
  });

  it(`d. a retention shrink that drops data fails preview until acknowledged, then up drops exactly the listed partitions (pg_partman ${version}, ${base} stack)`, TIMEOUT, async () => {
    const recent = [0, 1, 2, 3, 4, 5];
    const old = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    await query(
      db.url,
      `INSERT INTO analytics.page_views (session_id, path, duration_ms, viewed_at)
       SELECT gen_random_uuid(), '/docs/' || d, 1000 + g, now() - d * interval '1 day' FROM unnest($1::int[]) d, generate_series(1, 50) g`,
      [[...recent, ...old]],
    );
    await query(db.url, "ANALYZE analytics.page_views");
    const rows = async (where: string) => (await query(db.url, `SELECT count(*)::int AS n FROM analytics.page_views WHERE ${where}`))[0].n;
    const before = await partitions();
    const pageViews = table(doc, "analytics.page_views");

    pageViews.retention = "7 days";
    save();
    const refused = await pulumi(build, stack, "preview");
    const refusal = refused.steps.find((s) => child(s) === "analytics.page_views");
    expect(refusal?.op).toBe("failed");
    expect(refusal?.error).toMatch(/retention: table analytics\.page_views: .*makes maintenance DROP .*page_views_p\d/s);
    expect(await partitions()).toEqual(before);

    pageViews.allowDataLoss = true;
    save();
    const acknowledged = await pulumi(build, stack, "preview");
    expect(acknowledged.errors).toEqual([]);
    expect(acknowledged.steps.filter((s) => s.op !== "same").map(brief)).toEqual(["update analytics.page_views"]);
    const pending: string[] = (acknowledged.checkedInputs[`${COMPONENT}-analytics.page_views`]?.pendingDrops ?? []).map((p: string) => p.split(" ")[0]);
    const expired = (await query<{ relname: string }>(db.url, EXPIRED, ["7 days"])).map((r) => r.relname);
    expect(pending.sort()).toEqual(expired.sort());
    expect(pending.length).toBeGreaterThanOrEqual(old.length);
    expect(await partitions()).toEqual(before);

    const r = await pulumi(build, stack, "up");
    expect(r.errors).toEqual([]);
    expect(r.steps.filter((s) => s.op !== "same").map(brief)).toEqual(["update analytics.page_views"]);
    expect(await partitions()).toEqual(before.filter((p) => !pending.includes(p)));
    expect(await rows("viewed_at < now() - interval '7 days'")).toBe(0);
    expect(await rows("true")).toBe(recent.length * 50);
    await expectSettled();
  });
});
