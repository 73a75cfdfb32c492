// Sub-partitioned maintenance under live traffic, with each pg_partman major: ranges of tenants
// split by day, hot queries bounded by now(), single-row writers and a long report running
// throughout while an apply raises the sub-partitions' premake and sets their retention, and while
// the scheduled job's own command expires the next day. Each range (sub-parent) is locked first, so
// no client fails or waits behind the report, exactly the days past the horizon go from every range,
// and every row inside it stays.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Session } from "../../infra/db/session";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { applyStack } from "../../infra/engine/reconcile";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { dailySuffix, sessionFor, specFor, tenantAudit } from "../helpers/spec";
import { expectUnharmed, LOCK_TIMEOUT_MS, REPORT_MS, underTraffic, type Traffic } from "../helpers/traffic";

const RANGES = ["tenant_audit_p0", "tenant_audit_p100"];
const tenant = () => [Math.floor(Math.random() * 200)];

describe.each(PARTMAN_VERSIONS)(onServer("sub-partitioned maintenance under live traffic with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let session: Session;
  const spec = (sub: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) =>
    specFor(db, [tenantAudit({ subpartition: { control: "created_at", interval: "1 day", premake: 4, ...sub }, ...overrides })], {
      partmanVersion: version,
      // A schedule that never fires during the test: the hourly default let pg_cron's own run at
      // :00 expire the day the test's command is then asserted to expire.
      maintenance: { lockTimeout: `${LOCK_TIMEOUT_MS}ms`, maxLockWait: "30 s", schedule: "0 0 1 1 *" },
    });
  const q = async <T extends Record<string, unknown>>(sql: string) => (await session.target.query<T>(sql)).rows;
  /** The day partitions `offset` days from today in each of `ranges`. */
  const daysIn = (ranges: string[], ...offsets: number[]) => ranges.flatMap((r) => offsets.map((o) => `${r}${dailySuffix(version, new Date(Date.now() + o * 86_400_000))}`)).sort();
  const days = (...offsets: number[]) => daysIn(RANGES, ...offsets);
  const dayPartitions = async () =>
    (await q<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent::regclass::text LIKE 'public.tenant\\_audit\\_p%' ORDER BY 1`)).map((r) => r.name);
  /** Each range's last maintenance run, as the job and apply record it. */
  const lastRuns = async () =>
    q<{ parent_table: string; expired: string[]; created: string[]; deferred: string[]; waited_ms: number; error: string | null }>(
      `SELECT DISTINCT ON (parent_table) parent_table, expired, created, deferred, waited_ms, error FROM partman_stack.maintenance_runs
        WHERE parent_table <> 'public.tenant_audit' ORDER BY parent_table, id DESC`,
    );
  const rowsSince = async (cutoff: string) => (await q<{ n: number }>(`SELECT count(*)::int AS n FROM public.tenant_audit WHERE action = 'seed' AND created_at >= ${cutoff}`))[0].n;
  const traffic: Traffic = {
    hot: [`SELECT count(*) FROM public.tenant_audit WHERE tenant_id = $1 AND created_at > now() - interval '1 hour'`, tenant],
    write: [`INSERT INTO public.tenant_audit (tenant_id, action) VALUES ($1, 'live')`, tenant],
    table: "public.tenant_audit",
  };

  beforeEach(async () => {
    db = await createTestDatabase({ partman: null });
    session = await sessionFor(db);
    expect((await applyStack(session, spec())).result).toMatchObject({ blocked: [], failed: [] });
    // Five days of rows in both ranges of tenants, 200 a day each.
    await q(
      `INSERT INTO public.tenant_audit (tenant_id, action, created_at)
       SELECT t, 'seed', date_trunc('day', now()) - d * interval '1 day' + (t % 200) * interval '7 minutes'
         FROM generate_series(0, 4) d, generate_series(0, 199) t`,
    );
    await q(`ANALYZE public.tenant_audit`);
  });

  afterEach(async () => {
    await (await session.on("postgres")).query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await session.close();
    await db.drop();
  });

  it(`pg_partman ${version}: an apply setting the sub-partitions' retention and raising their premake, then the job's own command, harm no client and expire exactly the days past the horizon in every range`, { timeout: 90_000 }, async () => {
    expect(await dayPartitions()).toEqual(expect.arrayContaining(days(-4, -3, -2, -1, 0, 4)));
    // Horizon now() - 2 days: days -4 and -3 end before it, day -2 after it.
    const inside = await rowsSince(`date_trunc('day', now()) - interval '2 days'`);
    const shrunk = spec({ premake: 6, retention: "2 days" }, { allowDataLoss: true });

    const applied = await underTraffic(db.url, traffic, () => applyStack(session, shrunk));
    expectUnharmed(applied);
    const { result } = applied.value;
    expect(result).toMatchObject({ blocked: [], failed: [] });
    expect(result.maintenance.map((m) => m.notYetExpired)).toEqual([[]]);
    const runs = await lastRuns();
    expect(runs.map((r) => r.parent_table)).toEqual(RANGES.map((r) => `public.${r}`));
    expect(runs.flatMap((r) => r.expired).sort()).toEqual(days(-4, -3));
    expect(runs.flatMap((r) => r.created)).toEqual(expect.arrayContaining(days(5, 6)));
    expect(runs.every((r) => r.error === null && r.deferred.length === 0)).toBe(true);
    expect(await rowsSince(`date_trunc('day', now()) - interval '2 days'`)).toBe(inside);

    // The job's own command, with the horizon moved to one day by hand: day -2 goes from every range.
    await q(`UPDATE partman_stack.sub_retention SET retention = '1 day'`);
    const insideOne = await rowsSince(`date_trunc('day', now()) - interval '1 day'`);
    const job = await underTraffic(db.url, traffic, () => q(maintenanceCommand(shrunk.maintenance)));
    expectUnharmed(job);
    const after = await lastRuns();
    // The seed's highest tenant made the next range (p200) in the apply's run, with days back to
    // premake days ago: this run expires those that end before the horizon too.
    expect(after.map((r) => r.parent_table)).toEqual([...RANGES, "tenant_audit_p200"].map((r) => `public.${r}`));
    expect(after.slice(0, 2).flatMap((r) => r.expired).sort()).toEqual(days(-2));
    expect(after[2].expired.length).toBeGreaterThan(0);
    expect(daysIn(["tenant_audit_p200"], -10, -9, -8, -7, -6, -5, -4, -3, -2)).toEqual(expect.arrayContaining(after[2].expired));
    // The first range waited for the report to end, without queuing: that is why nobody stalled.
    expect(after[0].waited_ms).toBeGreaterThan(REPORT_MS / 2);
    expect(after.every((r) => r.error === null && r.deferred.length === 0)).toBe(true);
    const left = await dayPartitions();
    expect(left.filter((d) => [...days(-2), ...after[2].expired].includes(d))).toEqual([]);
    expect(left).toEqual(expect.arrayContaining(daysIn([...RANGES, "tenant_audit_p200"], -1, 0, 6)));
    expect(await rowsSince(`date_trunc('day', now()) - interval '1 day'`)).toBe(insideOne);
  });
});
