// pg_partman's release on a live stack: verify and status warn while the installed release lacks
// security fixes that apply (naming the CVEs and the upgrade), and plan/apply update it in place
// when the stack's partmanVersion says so: 5.2.4 → 5.5.0 with rows, writers and the job in place,
// partman-stack's own maintenance working afterwards. 4.x → 5.x and downgrades are refused.

import { describe, expect, it } from "vitest";
import { formatPlan, formatStatus } from "../../infra/cli/format";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { onServer, PARTMAN_VERSIONS, queryRows } from "../helpers/database";
import { events, specFor, userEvents } from "../helpers/spec";
import { testDatabase } from "../helpers/test-database";
import { expectUnharmed, underTraffic } from "../helpers/traffic";

const FROM = "5.2.4";
const TO = "5.5.0";
const CODEC_CVES = "CVE-2026-61781, CVE-2026-61817, CVE-2026-61818";

describe.runIf(PARTMAN_VERSIONS.includes(FROM) && PARTMAN_VERSIONS.includes(TO))(onServer(`pg_partman ${FROM} → ${TO} with rows and the job in place`), () => {
  const fx = testDatabase();
  const spec = (version: string) => specFor(fx.db, [events({ retention: "30 days" }), userEvents()], { partmanVersion: version });
  const rows = async () => (await queryRows(fx.db.url, `SELECT (SELECT count(*) FROM public.events)::int AS events, (SELECT count(*) FROM public.user_events)::int AS user_events`))[0];
  const installed = async () => (await queryRows(fx.db.url, `SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'`))[0].extversion;

  async function liveStack() {
    expect((await applyStack(fx.session, spec(FROM))).result.failed).toEqual([]);
    await fx.session.target.query(
      `INSERT INTO public.events (run_id, kind, created_at) SELECT gen_random_uuid(), 'seed', now() - g * interval '1 hour' FROM generate_series(0, 47) g;
       INSERT INTO public.user_events (id, user_id, kind) SELECT partman.uuid7_time_encoder(now() - g * interval '1 minute'), g, 'seed' FROM generate_series(0, 99) g;`,
    );
  }

  it(`warns on ${FROM} in verify and status, naming the CVEs that apply to this stack and the upgrade`, async () => {
    await liveStack();
    const check = (await verify(fx.session, spec(FROM))).checks.find((c) => c.check === "partman-version")!;
    expect(check).toMatchObject({ status: "warn", message: expect.stringContaining(`pg_partman ${FROM} lacks security fixes of ${TO} that apply to stack test: `) });
    // The codec CVEs because user_events uses uuidv7; the template-table one for every set; no jobmon, no retention schema here.
    expect(check.message).toContain(`${CODEC_CVES} (SQL injection and privilege escalation through time encoder/decoder functions: public.user_events uses a time codec)`);
    expect(check.message).toContain("CVE-2026-61820 (template-table inheritance");
    expect(check.message).not.toContain("CVE-2026-61819");
    expect(check.message).not.toContain("CVE-2026-61821");
    expect(check.fix).toBe(`set database.partmanVersion: "${TO}" in stacks/Pulumi.test.yaml, then partman-stack plan --stack test and apply (ALTER EXTENSION pg_partman UPDATE, in place, on the live sets)`);
    const report = await status(fx.session, spec(FROM));
    expect(report.warnings).toEqual([`${check.message}. Upgrade: ${check.fix}`]);
    expect(formatStatus(report)).toContain(`\nWARNING: pg_partman ${FROM} lacks security fixes of ${TO}`);
    // A retention schema and pg_jobmon add theirs.
    await fx.session.target.query("CREATE SCHEMA expired");
    const withSchema = specFor(fx.db, [events({ retention: "30 days", retentionSchema: "expired" })], { partmanVersion: FROM });
    expect((await status(fx.session, withSchema)).warnings[0]).toContain("CVE-2026-61821 (a retention schema not owned by the child tables' owner: public.events moves expired partitions to a retentionSchema)");
  });

  it(`updates ${FROM} to ${TO} in place under writers and a long report: one reviewed update, no row lost, the sets, their codec and the job working after`, async () => {
    await liveStack();
    const before = await rows();
    const p = await planStack(fx.session, spec(TO));
    expect(p.problems).toEqual([]);
    // The update, then partman-stack's procedures as they are for the new release.
    expect(p.steps.map((s) => s.action)).toEqual(["update-extension", "install-objects"]);
    expect(p.steps[0].changes).toEqual([{ property: "partmanVersion", from: FROM, to: TO }]);
    expect(p.steps[0].sql[0]).toMatch(/^SELECT partman_stack\.lock_in_order_or_raise\(ARRAY\['"partman"\.part_config', '"partman"\.part_config_sub'\]/);
    expect(p.steps[0].sql[1]).toBe(`ALTER EXTENSION pg_partman UPDATE TO '${TO}';`);
    expect(formatPlan(p)).toContain(`~ update extension pg_partman ${FROM} → ${TO} in place`);

    const traffic = await underTraffic(
      fx.db.url,
      {
        hot: ["SELECT count(*) FROM public.events WHERE created_at > now() - interval '1 hour'", () => []],
        write: ["INSERT INTO public.events (run_id, kind) VALUES (gen_random_uuid(), 'live')", () => []],
        table: "public.events",
      },
      () => applyStack(fx.session, spec(TO)),
    );
    expect(traffic.value.result.failed).toEqual([]);
    expectUnharmed(traffic);
    console.log(`upgrade under traffic: longest hot-query stall ${traffic.hot.maxMs} ms, longest insert stall ${traffic.writers.maxMs} ms`);

    expect(await installed()).toBe(TO);
    const after = await rows();
    expect(after.user_events).toBe(before.user_events);
    expect(after.events).toBe(before.events + traffic.writers.calls);
    // 5.5 quotes the codec's names itself: stored unquoted, it finds them.
    expect(await queryRows(fx.db.url, `SELECT time_encoder, time_decoder FROM partman.part_config WHERE parent_table = 'public.user_events'`)).toEqual([
      { time_encoder: "partman.uuid7_time_encoder", time_decoder: "partman.uuid7_time_decoder" },
    ]);
    expect((await planStack(fx.session, spec(TO))).steps).toEqual([]);

    // The job's own command maintains both sets on the new release: a missing partition ahead comes back.
    const ahead = (await status(fx.session, spec(TO))).tables.map((t) => t.partitions.filter((x) => !x.isDefault).at(-1)!.name);
    for (const name of ahead) await fx.session.target.query(`DROP TABLE public.${name}`);
    await fx.session.target.query(maintenanceCommand(spec(TO).maintenance));
    const report = await status(fx.session, spec(TO));
    for (const [i, t] of report.tables.entries()) {
      expect(t.partitions.map((x) => x.name)).toContain(ahead[i]);
      expect(t.lastMaintenance).toMatchObject({ error: null, created: expect.arrayContaining([expect.stringContaining(ahead[i])]) });
    }
    expect(report.warnings).toEqual([]);
    const checked = await verify(fx.session, spec(TO));
    expect(checked.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(checked.checks.find((c) => c.check === "partman-version")).toMatchObject({ status: "ok" });
  });

  it(`after an update made outside partman-stack (by hand, or the Pulumi program's Extension resource), the next apply stores the codec names as ${TO} takes them`, async () => {
    await liveStack();
    await fx.session.target.query(`ALTER EXTENSION pg_partman UPDATE TO '${TO}'`);
    const p = await planStack(fx.session, spec(TO));
    const fix = p.steps.find((s) => s.table === "public.user_events" && s.action === "update-config")!;
    expect(fix.summary).toBe(`store the time encoder and decoder unquoted, as pg_partman ${TO} quotes each part of the names itself`);
    expect(fix.changes).toEqual([{ property: "part_config.time_decoder", from: `"partman".uuid7_time_decoder`, to: "partman.uuid7_time_decoder" }]);
    expect((await applyStack(fx.session, spec(TO))).result.failed).toEqual([]);
    expect((await planStack(fx.session, spec(TO))).steps).toEqual([]);
    await fx.session.target.query(maintenanceCommand(spec(TO).maintenance));
    expect((await status(fx.session, spec(TO))).tables.map((t) => t.lastMaintenance?.error ?? null)).toEqual([null, null]);
  });

  it(`refuses a downgrade and names why, changing nothing`, async () => {
    await liveStack();
    await applyStack(fx.session, spec(TO));
    const p = await planStack(fx.session, spec(FROM));
    expect(p.problems.map((x) => x.message)).toEqual([
      `pg_partman ${TO} is installed but stack "test" declares partmanVersion ${FROM}: pg_partman has no downgrade path, so partman-stack does not go back; declare partmanVersion "${TO}"`,
    ]);
    await applyStack(fx.session, spec(FROM));
    expect(await installed()).toBe(TO);
  });
});

describe.runIf(PARTMAN_VERSIONS.includes("4.7.2") && PARTMAN_VERSIONS.includes(TO))(onServer(`pg_partman 4.7.2 → ${TO}`), () => {
  const fx = testDatabase();

  it("is refused as the migration pg_partman documents separately, naming its guide; the sets stay on 4.7.2 and still apply", async () => {
    const spec = (version: string) => specFor(fx.db, [events()], { partmanVersion: version });
    await applyStack(fx.session, spec("4.7.2"));
    const check = (await verify(fx.session, spec("4.7.2"))).checks.find((c) => c.check === "partman-version")!;
    expect(check.status).toBe("warn");
    expect(check.fix).toMatch(/^pg_partman 4\.7\.2 → 5\.5\.0 crosses a major release, which pg_partman documents as a migration of its own \(its docs\/pg_partman_5\.0\.1_upgrade\.md/);
    const p = await planStack(fx.session, spec(TO));
    expect(p.problems.map((x) => x.message)).toEqual([`pg_partman 4.7.2 is installed but stack "test" declares partmanVersion ${TO}: ${check.fix}. Follow that guide, or declare partmanVersion "4.7.2" until then`]);
    expect(p.steps).toEqual([]);
    const applied = await applyStack(fx.session, spec(TO));
    expect(applied.result.blocked.map((x) => x.unit)).toEqual(["extensions"]);
    expect((await queryRows(fx.db.url, `SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'`))[0].extversion).toBe("4.7.2");
  });
});
