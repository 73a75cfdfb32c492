// The dynamic providers' methods against real databases, with each pg_partman major, acting as a
// non-superuser owner role that holds only the grants the Pulumi program issues.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { inject } from "vitest";
import { partitionedTableProvider as tables, type TableInputs, type TableOutputs } from "../../infra/providers/partitioned-table";
import { maintenanceJobProvider as jobs, type JobInputs, type JobOutputs } from "../../infra/providers/maintenance-job";
import { serverPreflightProvider as preflight, type PreflightInputs } from "../../infra/providers/server-preflight";
import { PROVIDER_VERSION } from "../../infra/providers/connection";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { eventsTableInputs } from "../helpers/provider-inputs";
import { createRoles, ddlText, type TestRoles } from "../helpers/roles";
import { events, specFor } from "../helpers/spec";

describe.each(PARTMAN_VERSIONS)(onServer("dynamic providers with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let roles: TestRoles;
  let sql: Client;
  const port = Number(new URL(inject("pgUrl")).port);

  beforeAll(async () => {
    db = await createTestDatabase({ partman: version });
    const spec = specFor(db, [events()]);
    spec.roles = { owner: `o_${db.name}`, app: `a_${db.name}` };
    roles = await createRoles(db, spec);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql.end();
    await roles.drop();
  });

  const connected = () => ({
    stack: "test",
    connection: { host: "127.0.0.1", port, database: db.name, user: "postgres", sslmode: "disable" as const },
    password: "",
    owner: roles.owner,
    providerVersion: PROVIDER_VERSION,
  });

  const tableInputs = (overrides: Partial<TableInputs> = {}): TableInputs => eventsTableInputs(connected(), overrides);

  describe("PartitionedTable", () => {
    let outs: TableOutputs;

    it(`pg_partman ${version}: create → read → diff on a changed retention → update → read shows the new value`, async () => {
      const inputs = tableInputs();
      expect((await tables.check!({}, inputs)).failures).toEqual([]);
      const created = await tables.create(inputs);
      expect(created.id).toBe("public.events");
      expect(created.outs.partmanVersion).toBe(version);
      const owner = await sql.query(`SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'events'`);
      expect(owner.rows).toEqual([{ tableowner: roles.owner }]);

      const read = await tables.read!(created.id, created.outs);
      expect(read.props).toMatchObject({ retention: "30 days", premake: 4, interval: "1 day", retentionKeepTable: false, defaultPartition: true });

      expect(await tables.diff!(created.id, read.props, tableInputs({ retention: "1 month" }))).toMatchObject({ changes: true, replaces: [] });
      expect(await tables.diff!(created.id, read.props, tableInputs())).toMatchObject({ changes: false, replaces: [] });
      const shorter = tableInputs({ retention: "7 days" });
      const diff = await tables.diff!(created.id, read.props, shorter);
      expect(diff).toMatchObject({ changes: true, replaces: [], stables: ["name", "control", "type", "interval", "epoch", "uuidv7", "timeEncoder", "timeDecoder", "ddlSql"] });

      const updated = await tables.update!(created.id, read.props, shorter);
      outs = (await tables.read!(created.id, updated.outs!)).props as TableOutputs;
      expect(outs.retention).toBe("7 days");
      const live = await sql.query(`SELECT retention FROM partman_stack.retention WHERE parent_table = 'public.events'`);
      expect(live.rows).toEqual([{ retention: "7 days" }]);
    });

    it(`pg_partman ${version}: shows a hand edit of part_config and of the retention in read, and update puts it back`, async () => {
      await sql.query(`UPDATE partman.part_config SET premake = 9 WHERE parent_table = 'public.events'`);
      await sql.query(`UPDATE partman_stack.retention SET keep_table = true WHERE parent_table = 'public.events'`);
      const read = (await tables.read!("public.events", outs)).props as TableOutputs;
      expect(read).toMatchObject({ premake: 9, retentionKeepTable: true });
      const wanted = tableInputs({ retention: "7 days" });
      expect((await tables.diff!("public.events", read, wanted)).changes).toBe(true);
      await tables.update!("public.events", read, wanted);
      expect((await tables.read!("public.events", outs)).props).toMatchObject({ premake: 4, retentionKeepTable: false });
    });

    it(`pg_partman ${version}: gives the app role DML on the table and on partitions created later, and nothing more`, async () => {
      const spec = specFor(db, [events()]);
      spec.roles = { owner: roles.owner, app: roles.app };
      await roles.grantApp(spec);
      await sql.query(`SET ROLE ${roles.app}`);
      try {
        await sql.query(`INSERT INTO public.events (run_id, kind) VALUES (gen_random_uuid(), 'app')`);
        const child = (await sql.query(`SELECT tableoid::regclass::text AS t FROM public.events WHERE kind = 'app'`)).rows[0].t;
        expect((await sql.query(`SELECT count(*)::int AS n FROM ${child}`)).rows[0].n).toBe(1);
        await expect(sql.query(`DROP TABLE public.events`)).rejects.toThrow(/must be owner/);
        await expect(sql.query(`UPDATE partman.part_config SET premake = 1`)).rejects.toThrow(/permission denied/);
        await expect(sql.query(`UPDATE partman_stack.retention SET retention = '1 day'`)).rejects.toThrow(/permission denied/);
      } finally {
        await sql.query(`RESET ROLE`);
      }
    });

    it(`pg_partman ${version}: refuses bad input and in-place-impossible changes at check, and never replaces`, async () => {
      const bad = await tables.check!({}, tableInputs({ retention: "90 dayz", premake: 0 }));
      expect(bad.failures).toEqual([
        { property: "premake", reason: expect.stringContaining(`stack "test", table public.events: premake 0 must be a whole number ≥ 1`) },
        { property: "retention", reason: expect.stringContaining(`retention "90 dayz" is not a PostgreSQL interval`) },
      ]);
      const weekly = tableInputs({ interval: "1 week" });
      const check = await tables.check!(outs, weekly);
      expect(check.failures).toEqual([{ property: "interval", reason: expect.stringMatching(/interval cannot change from "1 day" to "1 week" in place; that needs a migration/) }]);
      await expect(tables.diff!("public.events", outs, weekly)).rejects.toThrow(/never replaces a table/);
      const ddl = tableInputs({ retention: "7 days", ddlSql: outs.ddlSql + "\nCREATE INDEX x ON public.events (kind);" });
      await expect(tables.diff!("public.events", outs, ddl)).rejects.toThrow(/never re-runs DDL on an existing table/);
    });

    it(`pg_partman ${version}: check refuses a retention change that would drop data, naming the partitions, and lists them as pendingDrops once acknowledged`, async () => {
      const day = 86_400_000;
      const start = new Date(Math.floor(Date.now() / day) * day - 20 * day).toISOString().slice(0, 10);
      const audit = (overrides: Partial<TableInputs> = {}) =>
        tableInputs({ name: "public.audit_log", ddl: "sql/tables/audit_log.sql", ddlSql: ddlText("sql/tables/audit_log.sql"), interval: "1 day", premake: 2, retention: null, startPartition: start, ...overrides });
      const created = await tables.create(audit());
      await sql.query(`INSERT INTO public.audit_log (actor, action, target_type, target_id, created_at) SELECT 'a', 'b', 'c', 'd', now() - g * interval '1 day' FROM generate_series(1, 19) g`);
      const refused = await tables.check!(created.outs, audit({ retention: "10 days" }));
      expect(refused.failures).toEqual([{ property: "retention", reason: expect.stringMatching(/^table public\.audit_log: retention \(none\) → "10 days" makes maintenance DROP \d+ partition\(s\)/) }]);
      const acknowledged = await tables.check!(created.outs, audit({ retention: "10 days", allowDataLoss: true }));
      expect(acknowledged.failures).toEqual([]);
      expect((acknowledged.inputs as TableInputs).pendingDrops!.length).toBeGreaterThanOrEqual(9);
      expect((acknowledged.inputs as TableInputs).pendingDrops![0]).toMatch(/^audit_log_p\S+ \[\d{4}-\d\d-\d\dT00:00:00\.000Z → /);
      await expect(tables.update!(created.id, created.outs, audit({ retention: "10 days" }))).rejects.toThrow(/makes maintenance DROP/);
      expect((await sql.query(`SELECT count(*)::int AS n FROM public.audit_log`)).rows).toEqual([{ n: 19 }]);
    });

    it(`pg_partman ${version}: an integer-range table: check takes ids for interval and retention and refuses a time interval, read and diff compare them as numbers`, async () => {
      const jobs = (overrides: Partial<TableInputs> = {}) =>
        tableInputs({ name: "public.job_log", ddl: "sql/tables/job_log.sql", ddlSql: ddlText("sql/tables/job_log.sql"), control: "id", interval: "1000", premake: 2, retention: "5000", ...overrides });
      expect((await tables.check!({}, jobs())).failures).toEqual([]);
      expect((await tables.check!({}, jobs({ interval: "1 day", retention: "2500" }))).failures).toEqual([
        { property: "interval", reason: expect.stringContaining(`interval "1 day" is a time interval, but control column id is bigint: an integer-range set's interval is the number of ids per partition`) },
      ]);
      expect((await tables.check!({}, jobs({ retention: "2500" }))).failures).toEqual([
        { property: "retention", reason: expect.stringContaining(`retention 2500 is not a multiple of interval 1000`) },
      ]);
      const created = await tables.create(jobs());
      const read = (await tables.read!(created.id, created.outs)).props as TableOutputs;
      expect(read).toMatchObject({ interval: "1000", retention: "5000", premake: 2 });
      expect(await tables.diff!(created.id, read, jobs())).toMatchObject({ changes: false });
      expect(await tables.diff!(created.id, read, jobs({ retention: "10000" }))).toMatchObject({ changes: true, replaces: [] });
      const live = await sql.query(`SELECT p.partition_interval, r.retention FROM partman.part_config p JOIN partman_stack.retention r USING (parent_table) WHERE parent_table = 'public.job_log'`);
      expect(live.rows).toEqual([{ partition_interval: "1000", retention: "5000" }]);
    });

    it(`pg_partman ${version}: a sub-partitioned table: check refuses adding subpartition to a table holding rows (a migration), diff names subpartition changes, read shows the live sub-partitions`, async () => {
      const audit = (overrides: Partial<TableInputs> = {}) =>
        tableInputs({ name: "public.tenant_audit", ddl: "sql/tables/tenant_audit.sql", ddlSql: ddlText("sql/tables/tenant_audit.sql"), control: "tenant_id", interval: "100", premake: 1, retention: null, ...overrides });
      const sub = { control: "created_at", interval: "1 day", premake: 2 };
      const created = await tables.create(audit());
      await sql.query(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (5, 'login')`);
      expect((await tables.check!(created.outs, audit({ subpartition: sub }))).failures).toEqual([
        { property: "subpartition", reason: expect.stringContaining(`table public.tenant_audit: adding subpartition to a set that holds rows (~1) is refused: pg_partman's create_sub_parent drops and recreates the set's partitions`) },
      ]);
      await sql.query(`DELETE FROM public.tenant_audit`);
      expect((await tables.check!(created.outs, audit({ subpartition: sub }))).failures).toEqual([]);
      expect(await tables.diff!(created.id, created.outs, audit({ subpartition: sub }))).toMatchObject({ changes: true, replaces: [] });
      const updated = await tables.update!(created.id, created.outs, audit({ subpartition: sub }));
      const read = (await tables.read!(created.id, updated.outs)).props as TableOutputs;
      expect(read.subpartition).toEqual({ control: "created_at", interval: "1 day", premake: 2, retention: null, retentionKeepTable: false });
      expect(await tables.diff!(created.id, read, audit({ subpartition: sub }))).toMatchObject({ changes: false });
      expect(await tables.diff!(created.id, read, audit({ subpartition: { ...sub, premake: 3 } }))).toMatchObject({ changes: true, replaces: [] });
      expect((await tables.check!(read, audit({ subpartition: { ...sub, interval: "1 hour" } }))).failures).toEqual([
        { property: "subpartition", reason: expect.stringContaining(`subpartition.interval is 1 day, declared 1 hour; pg_partman cannot change it in place`) },
      ]);
    });

    it(`pg_partman ${version}: a list table: check takes type list with interval 1, refuses turning it into a range set (or back) at check and diff, and read shows the type; refused before pg_partman 5.1`, async () => {
      const campaigns = (overrides: Partial<TableInputs> = {}) =>
        tableInputs({
          name: "public.campaign_participants", ddl: "sql/tables/campaign_participants.sql", ddlSql: ddlText("sql/tables/campaign_participants.sql"),
          control: "campaign_id", type: "list", interval: "1", premake: 2, retention: "10", ...overrides,
        });
      expect((await tables.check!({}, campaigns())).failures).toEqual([]);
      expect((await tables.check!({}, campaigns({ interval: "10" }))).failures).toEqual([
        { property: "interval", reason: expect.stringContaining(`interval "10" must be 1 on a list set (one partition per value)`) },
      ]);
      if (version.startsWith("4.")) {
        await expect(tables.create(campaigns())).rejects.toThrow(`type: list (one partition per value) needs pg_partman 5.1 or later (installed: ${version}`);
        expect((await sql.query(`SELECT to_regclass('public.campaign_participants') AS t`)).rows).toEqual([{ t: null }]);
        return;
      }
      const created = await tables.create(campaigns());
      const read = (await tables.read!(created.id, created.outs)).props as TableOutputs;
      expect(read).toMatchObject({ type: "list", interval: "1", retention: "10", premake: 2 });
      expect(await tables.diff!(created.id, read, campaigns())).toMatchObject({ changes: false });
      const range = campaigns({ type: undefined, interval: "100" });
      expect((await tables.check!(read, range)).failures).toContainEqual({
        property: "type",
        reason: expect.stringContaining(`table public.campaign_participants: type cannot change from "list" to "range" in place; that needs a migration to a new partition set`),
      });
      await expect(tables.diff!(created.id, read, range)).rejects.toThrow(/type cannot change from "list" to "range" in place/);
      const live = await sql.query(`SELECT partition_type, partition_interval FROM partman.part_config WHERE parent_table = 'public.campaign_participants'`);
      expect(live.rows).toEqual([{ partition_type: "list", partition_interval: "1" }]);
    });

    it(`pg_partman ${version}: delete leaves the table, its partitions, its rows and its part_config in place`, async () => {
      const before = await sql.query(`SELECT count(*)::int AS n FROM public.events`);
      expect(before.rows[0].n).toBeGreaterThan(0);
      await tables.delete!("public.events", outs);
      expect((await sql.query(`SELECT count(*)::int AS n FROM public.events`)).rows).toEqual(before.rows);
      expect((await sql.query(`SELECT count(*)::int AS n FROM partman.part_config WHERE parent_table = 'public.events'`)).rows[0].n).toBe(1);
    });
  });

  describe("MaintenanceJob", () => {
    const jobName = () => `partman-${db.name}`;
    const jobInputs = (overrides: Partial<JobInputs> = {}): JobInputs => ({ ...connected(), jobName: jobName(), schedule: "0 * * * *", analyze: false, enabled: true, lockTimeout: "200ms", maxLockWait: "1 min", ...overrides });
    const cronJob = async () => {
      const c = new Client({ connectionString: inject("pgUrl") });
      await c.connect();
      try {
        return (await c.query(`SELECT schedule, command, database, username, active FROM cron.job WHERE jobname = $1`, [jobName()])).rows;
      } finally {
        await c.end();
      }
    };

    it(`pg_partman ${version}: schedules the job as the owner, reads hand edits, restores them, and unschedules on delete`, async () => {
      expect((await jobs.check!({}, jobInputs({ schedule: "0 0 * * * *" }))).failures).toEqual([
        { property: "schedule", reason: expect.stringContaining(`has 6 field(s); pg_cron takes 5`) },
      ]);
      const created = await jobs.create(jobInputs());
      expect(created.outs).toMatchObject({ jobId: expect.any(Number), cronDatabase: "postgres", command: `CALL partman_stack.run_maintenance(p_analyze => false, p_lock_timeout => '200ms', p_max_lock_wait => '1 min')` });
      expect(await cronJob()).toEqual([{ schedule: "0 * * * *", command: `CALL partman_stack.run_maintenance(p_analyze => false, p_lock_timeout => '200ms', p_max_lock_wait => '1 min')`, database: db.name, username: roles.owner, active: true }]);

      const c = new Client({ connectionString: inject("pgUrl") });
      await c.connect();
      await c.query(`SELECT cron.alter_job($1, schedule => '30 2 * * *', active => false)`, [created.outs.jobId]);
      await c.end();
      const read = (await jobs.read!(created.id, created.outs)).props as JobOutputs;
      expect(read).toMatchObject({ schedule: "30 2 * * *", active: false });
      expect((await jobs.diff!(created.id, read, jobInputs())).changes).toBe(true);
      await jobs.update!(created.id, read, jobInputs());
      expect(await cronJob()).toMatchObject([{ schedule: "0 * * * *", active: true }]);

      await jobs.delete!(created.id, created.outs);
      expect(await cronJob()).toEqual([]);
    });
  });

  describe("ServerPreflight", () => {
    const inputs = (overrides: Partial<PreflightInputs> = {}): PreflightInputs => ({ ...connected(), partmanVersion: version, needCron: true, cronDatabase: "postgres", ...overrides });

    it(`pg_partman ${version}: passes on a ready server and names the fix for what is missing`, async () => {
      expect((await preflight.check!({}, inputs())).failures).toEqual([]);
      expect((await preflight.create(inputs())).outs).toMatchObject({ serverVersion: expect.stringMatching(/^15\./) });

      const wrongCron = await preflight.check!({}, inputs({ cronDatabase: db.name }));
      expect(wrongCron.failures).toEqual([{ property: "connection", reason: `pg_cron keeps its jobs in database postgres (cron.database_name) but stack test expects ${db.name}: set database.cronDatabase: postgres in the stack file` }]);
      await expect(preflight.create(inputs({ cronDatabase: db.name }))).rejects.toThrow(/is not ready for partman-stack/);

      const unreachable = await preflight.check!({}, inputs({ connection: { ...connected().connection, port: 1 } }));
      expect(unreachable.failures).toEqual([{ property: "connection", reason: expect.stringMatching(/^cannot connect to PostgreSQL at 127\.0\.0\.1:1/) }]);
    });
  });
});
