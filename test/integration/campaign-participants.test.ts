// The example the 5.x stacks ship (stacks/Pulumi.local.yaml, Pulumi.dev.yaml): campaign participants
// LIST-partitioned by campaign, each campaign split by month, as declared there, against real
// PostgreSQL 15 with each pg_partman that makes list sets (5.1+; the refusal on 4.x is list.test's):
// apply, rows landing in their campaign's month, the job's command making the next campaigns with
// their months, status nesting them, verify, and the shipped hot queries reading one campaign only.

import { describe, expect, it } from "vitest";
import { formatStatus } from "../../infra/cli/format";
import { readStackConfig } from "../../infra/config/stack-file";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { checkQueryPruning } from "../../infra/engine/pruning";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { testDatabase } from "../helpers/test-database";
import { REPO_ROOT, specFor } from "../helpers/spec";

const LIST_VERSIONS = PARTMAN_VERSIONS.filter((v) => !v.startsWith("4.") && !/^5\.0\./.test(v));

/** The campaign_participants entry of a shipped stack, as written there. */
function shipped(stack: string): Record<string, unknown> {
  const tables = readStackConfig(REPO_ROOT, stack).tables as Record<string, unknown>[];
  return tables.find((t) => t.name === "public.campaign_participants")!;
}

describe.each(LIST_VERSIONS)(onServer("campaign participants as the 5.x stacks declare them, with pg_partman %s"), (version) => {
  const fx = testDatabase();

  const q = async (sql: string, params: unknown[] = []) => (await fx.session.target.query(sql, params)).rows;
  const children = async (parent: string) =>
    (await q(`SELECT c.relname AS name, c.relkind::text AS kind FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY length(c.relname), c.relname`, [parent])) as {
      name: string;
      kind: string;
    }[];
  /** The month starting `offset` months from this one, as pg_partman 5.x names its partition. */
  const month = (offset: number) => {
    const d = new Date();
    const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
    return `_p${m.toISOString().slice(0, 10).replace(/-/g, "")}`;
  };

  it(`pg_partman ${version}: the local stack's entry makes a partition per campaign, each split by month; rows land in their campaign's month; the job's command makes the next campaigns with their months; status, verify and the shipped hot queries agree`, { timeout: 60_000 }, async () => {
    const entry = shipped("local");
    expect(shipped("dev")).toMatchObject({ type: "list", control: "campaign_id", subpartition: entry.subpartition });
    const s = specFor(fx.db, [entry], { partmanVersion: version });
    const t = s.tables[0];
    expect(t).toMatchObject({ kind: "id", type: "list", premake: 3, subpartition: { kind: "time", control: "joined_at", interval: { text: "1 month" }, premake: 2 } });

    const first = await planStack(fx.session, s);
    expect(first.problems).toEqual([]);
    expect(first.steps.map((x) => x.action)).toEqual(expect.arrayContaining(["create-parent", "create-sub-parent"]));
    expect((await applyStack(fx.session, s)).result).toMatchObject({ blocked: [], failed: [] });
    expect((await planStack(fx.session, s)).steps).toEqual([]);

    // Campaigns 0 … 3 (premake 3 past the highest, none yet), each a partitioned table of months.
    const campaigns = (await children("public.campaign_participants")).filter((c) => c.kind === "p").map((c) => c.name);
    expect(campaigns).toEqual([0, 1, 2, 3].map((c) => `campaign_participants_p${c}`));
    const months = (await children("public.campaign_participants_p1")).map((c) => c.name);
    for (const m of [-2, -1, 0, 1, 2]) expect(months).toContain(`campaign_participants_p1${month(m)}`);

    await q(`INSERT INTO public.campaign_participants (campaign_id, participant_id, source) SELECT c, c * 1000 + g, 'invite' FROM generate_series(1, 3) c, generate_series(1, 5) g`);
    expect(await q(`SELECT DISTINCT campaign_id, tableoid::regclass::text AS t FROM public.campaign_participants ORDER BY 1`)).toEqual(
      [1, 2, 3].map((c) => ({ campaign_id: c, t: `public.campaign_participants_p${c}${month(0)}` })),
    );

    // Campaign 3 started: the job's own command makes campaigns 4 … 6, each with its months.
    await q(maintenanceCommand(s.maintenance));
    const after = (await children("public.campaign_participants")).filter((c) => c.kind === "p").map((c) => c.name);
    expect(after).toEqual([0, 1, 2, 3, 4, 5, 6].map((c) => `campaign_participants_p${c}`));
    expect((await children("public.campaign_participants_p6")).map((c) => c.name)).toContain(`campaign_participants_p6${month(2)}`);

    const report = await status(fx.session, s);
    const st = report.tables[0];
    expect(st).toMatchObject({ state: "managed", type: "list", maxId: 3 });
    // Months in the stack file's words, not part_config's "1 mon".
    expect(formatStatus(report)).toMatch(/^public\.campaign_participants: one partition per value, premake 3, /m);
    expect(formatStatus(report)).toContain(`\n    public.campaign_participants_p6: 1 month partitions, premake 2, retention none (keep forever)\n`);
    expect(st.subpartitions.map((x) => x.name)).toEqual(after.map((c) => `public.${c}`));
    const checks = (await verify(fx.session, s)).checks;
    expect(checks.filter((c) => c.status === "fail")).toEqual([]);

    // The shipped queries (sql/queries/public.campaign_participants) read campaign 42's months only:
    // one month for a window, and its months through the participant index for a membership check.
    await q(`INSERT INTO public.campaign_participants (campaign_id, participant_id) VALUES (42, 1001)`);
    await verify(fx.session, s, { fix: true });
    const proven = await checkQueryPruning(fx.session, t, t.queries);
    expect(proven.map((r) => [r.query, r.ok, r.problems])).toEqual([
      ["joined-in-window", true, []],
      ["participant-in-campaign", true, []],
    ]);
    for (const r of proven) {
      for (const plan of [r.custom!, r.generic!]) {
        expect(plan.partitions.length).toBeGreaterThan(0);
        expect(plan.partitions.every((p) => p.startsWith("campaign_participants_p42_"))).toBe(true);
      }
    }
  });
});
