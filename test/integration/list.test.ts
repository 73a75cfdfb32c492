// LIST sets (one partition per integer value, pg_partman 5.1+) against real PostgreSQL 15 with each
// pg_partman major: create_parent with p_type 'list', premake for the next values as data arrives,
// retention counted in values under partman-stack's lock-first maintenance (the job's own command),
// the data-loss guard, status and archive by value, verify (default rows and --fix, pruning), the
// hot queries of sql/queries/public.campaign_participants, a live migration; and the refusal on 4.x.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivePartitions } from "../../infra/archive/archive";
import { formatStatus } from "../../infra/cli/format";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { checkQueryPruning } from "../../infra/engine/pruning";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { MigrationRefused } from "../../infra/migrate/migration";
import { MIGRATE_DEFAULTS, migrateRun, type MigrateOptions } from "../../infra/migrate/run";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { testDatabase } from "../helpers/test-database";
import { campaignParticipants, specFor } from "../helpers/spec";

describe.each(PARTMAN_VERSIONS)(onServer("LIST sets with pg_partman %s"), (version) => {
  const supported = !version.startsWith("4.") && !/^5\.0\./.test(version);
  const fx = testDatabase();

  const spec = (overrides: Record<string, unknown> = {}) => specFor(fx.db, [campaignParticipants(overrides)], { partmanVersion: version });
  const values = (...vs: number[]) => vs.map((v) => `campaign_participants_p${v}`);
  const children = async () =>
    (
      await fx.session.target.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'public.campaign_participants'::regclass ORDER BY length(c.relname), c.relname`,
      )
    ).rows.map((r) => r.name);
  /** `n` participants joining each of the campaigns. */
  const join = (campaigns: number[], n = 3) =>
    fx.session.target.query(
      `INSERT INTO public.campaign_participants (campaign_id, participant_id, joined_at)
       SELECT c, c * 1000 + g, now() - g * interval '1 minute' FROM unnest($1::int[]) c, generate_series(1, $2) g`,
      [campaigns, n],
    );
  const maintain = (s = spec()) => fx.session.target.query(maintenanceCommand(s.maintenance));
  const lastRun = async () =>
    (await fx.session.target.query(`SELECT created, expired, deferred, error FROM partman_stack.maintenance_runs WHERE parent_table = 'public.campaign_participants' ORDER BY id DESC LIMIT 1`)).rows[0];

  it.runIf(supported)(`pg_partman ${version}: registers a list set, makes partitions for the next values as campaigns arrive; status shows values, verify moves default rows into partitions of their own, and the hot queries prune`, async () => {
    const s = spec();
    const first = await planStack(fx.session, s);
    expect(first.problems).toEqual([]);
    const createParent = first.steps.find((x) => x.action === "create-parent")!;
    expect(createParent.sql.at(-1)).toContain(`p_control => 'campaign_id', p_type => 'list', p_interval => '1', p_premake => 2`);
    expect(createParent.summary).toContain("one partition per value on campaign_id, premake 2");
    expect((await applyStack(fx.session, s)).result).toMatchObject({ blocked: [], failed: [] });
    expect((await fx.session.target.query(`SELECT partition_type, partition_interval, premake FROM partman.part_config`)).rows).toEqual([{ partition_type: "list", partition_interval: "1", premake: 2 }]);
    expect(await children()).toEqual([...values(0, 1, 2), "campaign_participants_default"]);
    expect((await planStack(fx.session, s)).steps).toEqual([]);

    // Campaigns 1 and 2 start: the job's maintenance makes partitions for the next 2 values.
    await join([1, 2]);
    await maintain();
    expect(await lastRun()).toMatchObject({ created: values(3, 4), error: null });
    await join([3, 4]);
    await maintain();
    expect(await lastRun()).toMatchObject({ created: values(5, 6), error: null });
    await maintain();
    expect(await lastRun()).toMatchObject({ created: [], expired: [], deferred: [] });
    expect((await fx.session.target.query(`SELECT DISTINCT tableoid::regclass::text AS t FROM public.campaign_participants WHERE campaign_id = 4`)).rows).toEqual([{ t: "public.campaign_participants_p4" }]);

    const full = await status(fx.session, s);
    expect(full.tables[0]).toMatchObject({ state: "managed", kind: "id", type: "list", maxId: 4, interval: "1", coveredUntil: "7", partitionsAhead: 2, defaultRows: 0 });
    expect(full.tables[0].partitions.slice(0, 2).map((p) => [p.name, p.value, p.from, p.to, p.rows])).toEqual([
      ["campaign_participants_p0", "0", "0", "1", 0],
      ["campaign_participants_p1", "1", "1", "2", 3],
    ]);
    const text = formatStatus(full);
    expect(text).toContain(`public.campaign_participants: one partition per value, premake 2, retention none (keep forever)`);
    expect(text).toContain(`; 2 ahead of the highest value (4), covered until 7; default partition: 0 row(s)`);
    expect(text).toMatch(/PARTITION +VALUE +SIZE +ROWS\n +campaign_participants_p0 +0 /);

    const checks = (await verify(fx.session, s)).checks.filter((c) => c.table === "public.campaign_participants");
    expect(Object.fromEntries(checks.map((c) => [c.check, c.status]))).toMatchObject({ table: "ok", config: "ok", premake: "ok", bounds: "ok", "default-partition": "ok", pruning: "ok", query: "ok" });
    expect(checks.find((c) => c.check === "premake")!.message).toBe(`partitions reach 7, at least 2 × 1 past the highest value (4)`);
    expect(checks.find((c) => c.check === "pruning")!.message).toMatch(/^a query on campaign_id = 4 scans only campaign_participants_p4;/);

    // Campaign 42 starts past every partition and lands in the default: verify counts it by value,
    // and --fix moves it into a partition of its own and fills the values between.
    await join([42]);
    const dirty = (await verify(fx.session, s)).checks.find((c) => c.check === "default-partition")!;
    expect(dirty).toMatchObject({ status: "fail", message: `public.campaign_participants_default holds 3 row(s), by 1 range: 42: 3` });
    const fixed = await verify(fx.session, s, { fix: true });
    expect(fixed.checks.filter((c) => ["default-partition", "bounds"].includes(c.check)).map((c) => c.status)).toEqual(["ok", "ok"]);
    expect(await children()).toEqual([...values(...Array.from({ length: 43 }, (_, i) => i)), "campaign_participants_default"]);
    expect((await fx.session.target.query(`SELECT DISTINCT tableoid::regclass::text AS t FROM public.campaign_participants WHERE campaign_id = 42`)).rows).toEqual([{ t: "public.campaign_participants_p42" }]);

    // The declared hot queries (sql/queries/public.campaign_participants) read one campaign's partition.
    const proven = await checkQueryPruning(fx.session, s.tables[0], s.tables[0].queries);
    expect(proven.map((q) => [q.query, q.ok, q.custom?.partitions, q.generic?.partitions])).toEqual([
      ["joined-in-window", true, values(42), values(42)],
      ["participant-in-campaign", true, values(42), values(42)],
    ]);
  });

  it.runIf(supported)(`pg_partman ${version}: the data-loss guard names the values a retention would drop; acknowledged, the job's maintenance expires the partitions of values below max − retention; archive dumps one by value`, async () => {
    await applyStack(fx.session, spec());
    for (const upTo of [2, 4, 6]) {
      await join([upTo - 1, upTo]);
      await maintain();
    }
    expect(await children()).toEqual([...values(0, 1, 2, 3, 4, 5, 6, 7, 8), "campaign_participants_default"]);

    // max 6, retention 3: values below 3 go (p0 is empty, p1 and p2 hold 3 rows each).
    const refused = await planStack(fx.session, spec({ retention: 3 }));
    expect(refused.problems).toHaveLength(1);
    expect(refused.problems[0].message).toMatch(
      /^table public\.campaign_participants: retention \(none\) → "3" makes maintenance DROP 3 partition\(s\) holding 6 rows, \d+ kB: campaign_participants_p0 \[0 → 1, \d+ kB, 0 rows\], campaign_participants_p1 \[1 → 2, \d+ kB, 3 rows\], campaign_participants_p2 \[2 → 3, /,
    );
    expect((await applyStack(fx.session, spec({ retention: 3 }))).result.blocked).toEqual(refused.problems);
    expect(await children()).toContain("campaign_participants_p1");

    const acknowledged = spec({ retention: 3, allowDataLoss: true });
    const { result } = await applyStack(fx.session, acknowledged);
    expect(result.maintenance[0]).toMatchObject({ run: { expired: values(0, 1, 2), error: null } });
    expect((await fx.session.target.query(`SELECT min(campaign_id) AS min FROM public.campaign_participants`)).rows).toEqual([{ min: 3 }]);
    expect((await planStack(fx.session, acknowledged)).steps).toEqual([]);
    expect(formatStatus(await status(fx.session, acknowledged))).toContain(`retention 3 (partitions of values below 3 expire at the next maintenance run)`);

    // Campaign 8 starts: the job's own command makes 9 and 10 and expires 3 and 4.
    await join([8]);
    await maintain(acknowledged);
    expect(await lastRun()).toMatchObject({ created: values(10, 9), expired: values(3, 4), deferred: [], error: null });
    expect((await verify(fx.session, acknowledged)).checks.find((c) => c.check === "retention")).toMatchObject({ status: "ok" });

    // Declared, not applied: archive takes the stack file's retention (max 8 − 2 = 6) and dumps campaign 5.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-list-archive-"));
    try {
      const r = await archivePartitions(fx.session, spec({ retention: 2 }), "campaign_participants", { to: tmp });
      expect(r).toMatchObject({ retention: "2", horizon: "6", failed: 0 });
      expect(r.partitions.map((p) => [p.name, p.value, p.rows, p.status])).toEqual([["campaign_participants_p5", "5", 3, "archived"]]);
      expect(fs.existsSync(path.join(tmp, "public.campaign_participants_p5.dump"))).toBe(true);
      expect(await children()).not.toContain("campaign_participants_p5");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  // With the DDL file, and without one (the copy then takes the live table's definition, PARTITION BY LIST).
  it.runIf(supported).each([
    ["from sql/tables/campaign_participants.sql", campaignParticipants()],
    ["copying the live table's definition", { name: "public.campaign_participants", control: "campaign_id", type: "list", premake: 2 }],
  ])(`pg_partman ${version}: migrates a live table with rows onto a list set %s, a partition for every campaign present`, { timeout: 120_000 }, async (_how, declared) => {
    await fx.session.target.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${version}'`);
    await fx.session.target.query(
      `CREATE TABLE public.campaign_participants (campaign_id integer NOT NULL, participant_id bigint NOT NULL, joined_at timestamptz NOT NULL DEFAULT now(),
         referred_by bigint, source text NOT NULL DEFAULT 'organic' CHECK (source IN ('organic', 'invite', 'ad')), PRIMARY KEY (campaign_id, joined_at, participant_id))`,
    );
    await join([3, 5, 7, 12], 50);
    const quiet: MigrateOptions = { ...MIGRATE_DEFAULTS, batchSize: 40, dryRun: false, log: () => {}, print: () => {} };
    const target = specFor(fx.db, [declared], { partmanVersion: version });
    const result = await migrateRun(fx.session, target, "public.campaign_participants", quiet);
    expect(result.verification).toMatchObject({ ok: true, defaultRows: 0 });
    expect((await fx.session.target.query(`SELECT partition_type, partition_interval FROM partman.part_config WHERE parent_table = 'public.campaign_participants'`)).rows).toEqual([{ partition_type: "list", partition_interval: "1" }]);
    const placed = await fx.session.target.query(`SELECT tableoid::regclass::text AS t, count(*)::int AS n FROM public.campaign_participants GROUP BY 1 ORDER BY 1`);
    expect(placed.rows).toEqual(values(12, 3, 5, 7).map((t) => ({ t: `public.${t}`, n: 50 })));
    const names = await children();
    expect(names.slice(0, 12)).toEqual(values(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14));
    expect((await planStack(fx.session, target)).problems).toEqual([]);
    // A list set declared as ranges is refused with the reason: changing the type is a migration.
    const asRange = specFor(fx.db, [{ name: "public.campaign_participants", control: "campaign_id", interval: 100 }], { partmanVersion: version });
    expect((await planStack(fx.session, asRange)).problems.map((x) => x.message)).toEqual([
      `table public.campaign_participants is partitioned by LIST (campaign_id) but declared type: range; pg_partman cannot change an existing set's type: it needs a migration to a new table (or set type back to list)`,
      `table public.campaign_participants: partition interval is 1, declared 100; pg_partman cannot change an existing set's interval: it needs a migration to a new partition set (or set interval back to "1")`,
    ]);
  });

  it.runIf(supported)(`pg_partman ${version}: refuses to migrate campaigns so sparse that the copy would need more than 10000 partitions, leaving the live table as it is`, async () => {
    await fx.session.target.query(`CREATE TABLE public.campaign_participants (campaign_id integer NOT NULL, participant_id bigint NOT NULL, joined_at timestamptz NOT NULL DEFAULT now(), referred_by bigint, source text NOT NULL DEFAULT 'organic', PRIMARY KEY (campaign_id, joined_at, participant_id))`);
    await join([1, 20_000], 1);
    const refused = migrateRun(fx.session, spec(), "public.campaign_participants", { ...MIGRATE_DEFAULTS, dryRun: false, log: () => {}, print: () => {} });
    await expect(refused).rejects.toThrow(
      `public.campaign_participants's campaign_id spans 1 … 20000: the copy would need 20005 partitions of one value each (more than 10000, which no partition set should hold), so the live table is left as it is: declare a wider interval (type: range)`,
    );
    expect((await fx.session.target.query(`SELECT c.relkind::text AS k, count(p.*)::int AS n FROM pg_class c, public.campaign_participants p WHERE c.oid = 'public.campaign_participants'::regclass GROUP BY 1`)).rows).toEqual([{ k: "r", n: 2 }]);
  });

  it.runIf(!supported)(`pg_partman ${version}: a list set is refused before any change, naming the version needed`, async () => {
    const needs = (source: string) =>
      `table public.campaign_participants: type: list (one partition per value) needs pg_partman 5.1 or later (${source}: ${version}, which partitions only by ranges); upgrade pg_partman, or declare ranges of ids (type: range, interval ≥ 2)`;
    // Declared in the stack: refused as the stack is read. Installed: refused by plan, apply and migrate.
    expect(() => spec()).toThrow(needs("partmanVersion"));
    await fx.session.target.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '${version}'`);
    const installed = specFor(fx.db, [campaignParticipants()]);
    const message = needs("installed");
    const p = await planStack(fx.session, installed);
    expect(p.problems.map((x) => x.message)).toEqual([message]);
    expect(p.steps.filter((x) => x.table === "public.campaign_participants")).toEqual([]);
    expect((await applyStack(fx.session, installed)).result.blocked.map((x) => x.message)).toEqual([message]);
    expect((await fx.session.target.query(`SELECT to_regclass('public.campaign_participants') AS t`)).rows).toEqual([{ t: null }]);
    // A live table is not migrated onto one either.
    await fx.session.target.query(`CREATE TABLE public.campaign_participants (campaign_id integer NOT NULL, participant_id bigint NOT NULL, joined_at timestamptz NOT NULL DEFAULT now(), referred_by bigint, source text NOT NULL DEFAULT 'organic', PRIMARY KEY (campaign_id, joined_at, participant_id))`);
    const refused = migrateRun(fx.session, installed, "public.campaign_participants", { ...MIGRATE_DEFAULTS, dryRun: false, log: () => {}, print: () => {} });
    await expect(refused).rejects.toThrow(MigrationRefused);
    await expect(refused).rejects.toThrow(message);
  });
});
