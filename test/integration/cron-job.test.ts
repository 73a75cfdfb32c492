// The scheduled job really runs: pg_cron executes the command partman-stack schedules, in the
// target database, and it does maintenance there. pg_cron 1.4's finest schedule is a minute, so
// both pg_partman versions wait out the same minute side by side.

import { describe, expect, it } from "vitest";
import { applyStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { createTestDatabase, onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { events, sessionFor, specFor } from "../helpers/spec";

async function scheduledMaintenanceRuns(version: string) {
  const db = await createTestDatabase({ partman: null });
  const session = await sessionFor(db);
  const jobName = `partman-${db.name}`;
  try {
    const spec = specFor(db, [events({ premake: 3 })], { partmanVersion: version, maintenance: { schedule: "* * * * *" } });
    await applyStack(session, spec);
    const before = await status(session, spec);
    const newest = before.tables[0].partitions.filter((p) => !p.isDefault).at(-1)!;
    // Take away the furthest-ahead partition: only a maintenance run brings it back.
    await session.target.query(`DROP TABLE public.${newest.name}`);

    const cron = await session.on("postgres");
    const deadline = Date.now() + 130_000;
    let run;
    while (Date.now() < deadline) {
      run = (
        await cron.query(
          `SELECT d.status, d.return_message, d.database FROM cron.job_run_details d JOIN cron.job j USING (jobid)
            WHERE j.jobname = $1 AND d.status IN ('succeeded', 'failed') ORDER BY d.start_time DESC LIMIT 1`,
          [jobName],
        )
      ).rows[0];
      if (run) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(run).toEqual({ status: "succeeded", return_message: "CALL", database: db.name });

    const after = await status(session, spec);
    expect(after.tables[0].partitions.map((p) => p.name)).toContain(newest.name);
    expect(after.job?.lastRun?.status).toBe("succeeded");
  } finally {
    await (await session.on("postgres")).query(`SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1`, [jobName]);
    await session.close();
    await db.drop();
  }
}

describe(onServer("the pg_cron maintenance job"), () => {
  it(`pg_partman ${PARTMAN_VERSIONS.join(" and ")}: runs run_maintenance_proc in the target database and recreates a missing partition`, { timeout: 180_000 }, async () => {
    await Promise.all(PARTMAN_VERSIONS.map((v) => scheduledMaintenanceRuns(v)));
  });
});
