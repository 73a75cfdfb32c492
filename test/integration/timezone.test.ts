// A server whose TimeZone is America/New_York, across the end of daylight saving time (2026-11-01):
// partman-stack lays partitions out on UTC boundaries, its scheduled job runs pg_partman's
// maintenance in UTC, and verify catches partitions made in another TimeZone. Its own throwaway
// cluster: the shared one runs in UTC.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { destroyCluster, startCluster } from "../../infra/local/cluster";
import { applyStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { PARTMAN_VERSIONS } from "../helpers/database";
import { auditLog, events, sessionFor, specFor } from "../helpers/spec";

const HOUR = 3_600_000;

describe("on a server in America/New_York", () => {
  // Made in beforeAll, not while collecting: a run that selects none of these tests runs no afterAll.
  let dir: string | undefined;
  let base: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-tz-"));
    fs.chmodSync(dir, 0o755);
    base = (await startCluster(dir, { database: "postgres", cronDatabase: "postgres", throwaway: true, timezone: "America/New_York" })).url;
  });
  afterAll(async () => {
    if (dir) await destroyCluster(dir);
  });

  /** A database on that cluster for the stack; `plain` runs SQL in a new session of the server's
   *  TimeZone, as pg_cron runs each job. */
  async function stackOn(version: string, schedule = "0 * * * *") {
    const name = `tz_${version.replace(/\./g, "_")}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const db = { name, url: base.replace(/\/[^/]*$/, `/${name}`) };
    const spec = specFor(db, [events({ startPartition: "2026-10-28", premake: 2 }), auditLog({ startPartition: "2026-09-01" })], { partmanVersion: version, maintenance: { schedule } });
    const session = await sessionFor(db);
    const plain = async (sql: string) => {
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        return await c.query(sql);
      } finally {
        await c.end();
      }
    };
    const bounds = async (table: string) =>
      (await status(session, spec)).tables.find((t) => t.name === table)!.partitions.filter((p) => !p.isDefault).map((p) => [p.from!, p.to!]);
    const boundsCheck = async (table: string) => (await verify(session, spec)).checks.find((c) => c.check === "bounds" && c.table === table)!;
    return {
      spec, session, plain, bounds, boundsCheck,
      async close() {
        await (await session.on("postgres")).query(`SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1`, [name]);
        await session.close();
        const c = new Client({ connectionString: base });
        await c.connect();
        await c.query(`DROP DATABASE ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  }

  for (const version of PARTMAN_VERSIONS) {
    it(`pg_partman ${version}: apply lays daily and monthly partitions on UTC midnights across the DST change, and the job's own command keeps them there`, async () => {
      const s = await stackOn(version);
      try {
        expect((await s.plain(`SHOW TimeZone`)).rows).toEqual([{ TimeZone: "America/New_York" }]);
        expect((await applyStack(s.session, s.spec)).result).toMatchObject({ blocked: [], failed: [] });
        const daily = await s.bounds("public.events");
        expect(daily[0]).toEqual(["2026-10-28T00:00:00.000Z", "2026-10-29T00:00:00.000Z"]);
        // Each day 24 hours long, including 2026-11-01, whose New York day lasts 25.
        for (const [from, to] of daily) expect([new Date(from).getUTCHours(), Date.parse(to) - Date.parse(from)]).toEqual([0, 24 * HOUR]);
        expect(daily.find(([from]) => from === "2026-11-01T00:00:00.000Z")).toBeDefined();
        for (const [from] of await s.bounds("public.audit_log")) expect(from).toMatch(/^\d{4}-\d\d-01T00:00:00\.000Z$/);
        expect((await s.boundsCheck("public.events")).status).toBe("ok");

        // pg_cron runs the job's command in a session of the server's TimeZone: so does this.
        const job = (await status(s.session, s.spec)).job!;
        await s.plain(`UPDATE partman.part_config SET premake = 6 WHERE parent_table = 'public.events'`);
        await s.plain(job.command);
        const after = await s.bounds("public.events");
        expect(after.length).toBeGreaterThan(daily.length);
        expect((await s.boundsCheck("public.events")).status).toBe("ok");

        // What it guards against: pg_partman's own procedure, called in that session, leaves a day
        // uncovered (rows for it land in the default partition), and verify says so.
        await s.plain(`UPDATE partman.part_config SET premake = 9 WHERE parent_table = 'public.events'`);
        await s.plain(`CALL partman.run_maintenance_proc()`);
        const check = await s.boundsCheck("public.events");
        expect(check).toMatchObject({ status: "fail", message: expect.stringMatching(/^nothing covers \[\S+ → \S+\) between events_p\w+ and events_p\w+: rows for those times land in the default partition/) });
        expect((await verify(s.session, s.spec)).checks.find((c) => c.check === "maintenance-job")!.status).not.toBe("fail");
      } finally {
        await s.close();
      }
    });
  }

  it(`pg_partman ${PARTMAN_VERSIONS.join(" and ")}: pg_cron runs the scheduled job in UTC there`, { timeout: 180_000 }, async () => {
    const stacks = await Promise.all(PARTMAN_VERSIONS.map((v) => stackOn(v, "* * * * *")));
    try {
      for (const s of stacks) {
        await applyStack(s.session, s.spec);
        await s.plain(`UPDATE partman.part_config SET premake = 6 WHERE parent_table = 'public.events'`);
      }
      const before = await Promise.all(stacks.map((s) => s.bounds("public.events")));
      const deadline = Date.now() + 130_000;
      let runs: (string | undefined)[] = [];
      while (Date.now() < deadline) {
        runs = await Promise.all(stacks.map(async (s) => (await status(s.session, s.spec)).job?.lastRun?.status));
        if (runs.every((r) => r === "succeeded" || r === "failed")) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      expect(runs).toEqual(stacks.map(() => "succeeded"));
      for (const [i, s] of stacks.entries()) {
        expect((await s.bounds("public.events")).length).toBeGreaterThan(before[i].length);
        expect((await s.boundsCheck("public.events")).status).toBe("ok");
        expect((await verify(s.session, s.spec)).checks.find((c) => c.check === "maintenance-job")).toMatchObject({ status: "ok", message: expect.stringContaining("runs pg_partman's maintenance in UTC") });
      }
    } finally {
      for (const s of stacks) await s.close();
    }
  });
});
