// partman_stack.run_maintenance goes on past a failing set (what pg_partman 5.5.0 fixed for its own
// loop, CVE-2026-61822), on every pg_partman version: the failure is recorded with the set and the
// error, status and verify show it, and the set's next good run clears it. Retention of a set
// referenced by a foreign key detaches, then drops, or is refused while rows reference the
// partition. A retention schema is the tables' owner's.

import { describe, expect, it } from "vitest";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status, type TableStatus } from "../../infra/engine/status";
import { verify, type Check } from "../../infra/engine/verify";
import { onServer, PARTMAN_VERSIONS } from "../helpers/database";
import { auditLog, events, specFor } from "../helpers/spec";
import { testDatabase } from "../helpers/test-database";

const DAY = 86_400_000;
const CALL = `CALL partman_stack.run_maintenance(p_lock_timeout => '200 ms', p_max_lock_wait => '5 s')`;

describe.each(PARTMAN_VERSIONS)(onServer("maintenance failures with pg_partman %s"), (version) => {
  const fx = testDatabase();
  const q = (sql: string, params: unknown[] = []) => fx.session.target.query(sql, params);
  const bounded = (t: TableStatus) => t.partitions.filter((p) => !p.isDefault);
  const table = async (spec: ReturnType<typeof specFor>, name: string) => (await status(fx.session, spec)).tables.find((t) => t.name === name)!;
  const check = (checks: Check[], kind: Check["check"], name: string) => checks.find((c) => c.check === kind && c.table === name)!;
  const monthsAgo = (n: number) => {
    const d = new Date();
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 1)).toISOString().slice(0, 10);
  };

  /** An expired partition of audit_log made by hand, the month before its oldest, and its newest
   *  partition taken away: the next run must expire the one and make the other again. */
  async function auditLogWork(spec: ReturnType<typeof specFor>) {
    const parts = bounded(await table(spec, "public.audit_log"));
    const oldest = new Date(parts[0].from!);
    const before = new Date(Date.UTC(oldest.getUTCFullYear(), oldest.getUTCMonth() - 1, 1));
    await q(`CREATE TABLE public.audit_log_handmade PARTITION OF public.audit_log FOR VALUES FROM ('${before.toISOString()}') TO ('${oldest.toISOString()}')`);
    const newest = parts.at(-1)!.name;
    await q(`DROP TABLE public.${newest}`);
    return newest;
  }

  it(`pg_partman ${version}: a set whose partition cannot be made fails alone; the other set's partitions are made and expired in the same CALL; status and verify show the failure until a later run clears it`, { timeout: 120_000 }, async () => {
    const spec = specFor(fx.db, [events({ premake: 3 }), auditLog({ startPartition: monthsAgo(6), retention: "3 months" })], { partmanVersion: version });
    await applyStack(fx.session, spec);
    const newestAudit = await auditLogWork(spec);
    // events' newest day taken away, and a row for that day in its default partition: pg_partman
    // cannot attach the day again ("updated partition constraint for default partition … would be violated").
    const newestEvent = bounded(await table(spec, "public.events")).at(-1)!;
    await q(`DROP TABLE public.${newestEvent.name}`);
    await q(`INSERT INTO public.events (run_id, kind, created_at) VALUES (gen_random_uuid(), 'late', $1::timestamptz + interval '1 hour')`, [newestEvent.from]);

    await q(CALL);

    const audit = await table(spec, "public.audit_log");
    expect(bounded(audit).map((p) => p.name)).toContain(newestAudit);
    expect(bounded(audit).map((p) => p.name)).not.toContain("audit_log_handmade");
    expect(audit.lastMaintenance).toMatchObject({ error: null, expired: ["audit_log_handmade"] });
    const failed = await table(spec, "public.events");
    expect(bounded(failed).map((p) => p.name)).not.toContain(newestEvent.name);
    expect(failed.maintenanceError).toMatch(/^creating partitions: .*default partition "events_default" would be violated/);
    expect(failed.lastMaintenance!.lastSucceededAt).not.toBeNull(); // apply's run
    const runs = await q(`SELECT parent_table, error IS NOT NULL AS failed FROM partman_stack.maintenance_runs WHERE started_at > now() - interval '1 min' ORDER BY id DESC LIMIT 2`);
    expect(runs.rows.sort((a, b) => a.parent_table.localeCompare(b.parent_table))).toEqual([
      { parent_table: "public.audit_log", failed: false },
      { parent_table: "public.events", failed: true },
    ]);

    const report = await verify(fx.session, spec);
    expect(report.ok).toBe(false);
    expect(check(report.checks, "last-run", "public.events")).toMatchObject({
      status: "fail",
      message: expect.stringMatching(/failed for public\.events \(the other sets went on\): creating partitions: .*would be violated.*; last succeeded: \d{4}-/),
      fix: expect.stringMatching(/^rows in the default partition .*partman-stack verify --fix --stack test moves them/),
    });
    expect(check(report.checks, "last-run", "public.audit_log").status).toBe("ok");

    // The cause removed, the next run makes the day and clears the failure.
    await q(`DELETE FROM public.events_default`);
    await q(CALL);
    const cleared = await table(spec, "public.events");
    expect(bounded(cleared).map((p) => p.name)).toContain(newestEvent.name);
    expect(cleared.maintenanceError).toBeNull();
    expect(check((await verify(fx.session, spec)).checks, "last-run", "public.events").status).toBe("ok");
  });

  it(`pg_partman ${version}: retention of a set referenced by a foreign key is refused with the reason while rows reference an expired partition, without stopping the other set; detached and dropped once they are gone`, { timeout: 120_000 }, async () => {
    const start = new Date(Date.now() - 10 * DAY).toISOString().slice(0, 10);
    const keep = specFor(fx.db, [events({ premake: 2, startPartition: start }), auditLog({ startPartition: monthsAgo(6), retention: "3 months" })], { partmanVersion: version });
    await applyStack(fx.session, keep);
    await q(`CREATE TABLE public.event_notes (id bigint PRIMARY KEY, event_id bigint NOT NULL, event_at timestamptz NOT NULL,
               CONSTRAINT event_notes_event_fk FOREIGN KEY (event_id, event_at) REFERENCES public.events (id, created_at))`);
    await q(`INSERT INTO public.events (run_id, kind, created_at) VALUES (gen_random_uuid(), 'old', now() - interval '8 days')`);
    await q(`INSERT INTO public.event_notes SELECT 1, id, created_at FROM public.events WHERE kind = 'old'`);

    const spec = specFor(fx.db, [events({ premake: 2, startPartition: start, retention: "5 days", allowDataLoss: true }), auditLog({ startPartition: monthsAgo(6), retention: "3 months" })], { partmanVersion: version });
    await applyStack(fx.session, spec);
    const expiredBefore = bounded(await table(spec, "public.events")).filter((p) => Date.parse(p.to!) < Date.now() - 5 * DAY).map((p) => p.name);
    expect(expiredBefore.length).toBeGreaterThan(0);
    await auditLogWork(spec);

    await q(CALL);

    const refused = await table(spec, "public.events");
    expect(bounded(refused).map((p) => p.name)).toEqual(expect.arrayContaining(expiredBefore));
    expect(refused.maintenanceError).toMatch(
      /^expiring partitions: partition public\.events_p\w+ of public\.events is past retention but not expired: rows of public\.event_notes still reference it through foreign key event_notes_event_fk DETAIL: Key \(event_id, event_at\)=\(\d+, .*\) is still referenced from table "event_notes"/,
    );
    expect((await table(spec, "public.audit_log")).lastMaintenance).toMatchObject({ error: null, expired: ["audit_log_handmade"] });
    expect(check((await verify(fx.session, spec)).checks, "last-run", "public.events")).toMatchObject({
      status: "fail",
      fix: expect.stringMatching(/^delete those rows of public\.event_notes, or point them at rows of newer partitions .*the next maintenance run detaches and drops public\.events_p\w+; nothing of public\.events was expired meanwhile/),
    });

    await q(`DELETE FROM public.event_notes`);
    await q(CALL);
    const expired = await table(spec, "public.events");
    expect(expired.maintenanceError).toBeNull();
    expect(expired.lastMaintenance!.expired).toEqual(expiredBefore);
    expect(bounded(expired).map((p) => p.name)).not.toEqual(expect.arrayContaining([expiredBefore[0]]));
    expect((await q(`SELECT count(*)::int AS n FROM pg_class WHERE relname = ANY($1)`, [expiredBefore])).rows[0].n).toBe(0);
    if (version === "5.5.0") {
      expect((await q(`SELECT detach_before_drop FROM partman.part_config WHERE parent_table = 'public.events'`)).rows).toEqual([{ detach_before_drop: true }]);
    }
  });

  it(`pg_partman ${version}: apply creates a retention schema owned by the tables' owner, and refuses one another role owns, changing nothing`, { timeout: 60_000 }, async () => {
    const spec = specFor(fx.db, [auditLog({ startPartition: monthsAgo(6), retention: "3 months", retentionSchema: "archive" })], { partmanVersion: version });
    await applyStack(fx.session, spec);
    const owners = await q(
      `SELECT pg_get_userbyid(n.nspowner) AS schema_owner, pg_get_userbyid(c.relowner) AS table_owner
         FROM pg_namespace n, pg_class c WHERE n.nspname = 'archive' AND c.oid = 'public.audit_log'::regclass`,
    );
    expect(owners.rows[0].schema_owner).toBe(owners.rows[0].table_owner);
    expect((await q(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'archive'`)).rows[0].n).toBeGreaterThan(0);

    const other = `other_${fx.db.name}`;
    await q(`CREATE ROLE ${other}`);
    try {
      await q(`CREATE SCHEMA elsewhere AUTHORIZATION ${other}`);
      const moved = specFor(fx.db, [auditLog({ startPartition: monthsAgo(6), retention: "3 months", retentionSchema: "elsewhere" })], { partmanVersion: version });
      const p = await planStack(fx.session, moved);
      const message =
        `table public.audit_log: retentionSchema elsewhere is owned by ${other}, not by ${owners.rows[0].table_owner}, which owns the partitions maintenance would move there, ` +
        `and a schema's owner can drop what is in it; nothing is changed for this table. ALTER SCHEMA "elsewhere" OWNER TO "${owners.rows[0].table_owner}", or declare another retentionSchema`;
      expect(p.problems).toEqual([{ unit: "table public.audit_log", table: "public.audit_log", message }]);
      expect((await applyStack(fx.session, moved)).result.blocked).toEqual(p.problems);
      expect((await q(`SELECT retention_schema FROM partman_stack.retention WHERE parent_table = 'public.audit_log'`)).rows).toEqual([{ retention_schema: "archive" }]);
    } finally {
      await q(`DROP SCHEMA IF EXISTS elsewhere`);
      await q(`DROP ROLE ${other}`);
    }
  });
});
