// An unprivileged login role against partman-stack, with each pg_partman major. She (mallory) has
// CREATE on schema public (PostgreSQL's default before 15, kept by pg_upgrade) and on the database,
// and the database's search_path puts public before pg_catalog. Her closer matches of the built-in
// functions and operators partman-stack's routines and statements use, and same-signature copies,
// record every call (a sequence: it survives the caller's rollback) and try to make her superuser
// as the session user. Every front end, the scheduled job's own command (under SET ROLE, as apply
// runs it, and in pg_cron), and a writer during a migration run while she waits: none may call
// them. And what she can create or hold before partman-stack does: its schemas, a retention schema,
// the keys of advisory locks.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { archivePartitions } from "../../infra/archive/archive";
import type { StackSpec } from "../../infra/config/types";
import type { Session } from "../../infra/db/session";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { UntrustedSchema } from "../../infra/db/schema-trust";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { MIGRATE_DEFAULTS, migrateFinish, migrateRun, type MigrateOptions } from "../../infra/migrate/run";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { createLiveEvents } from "../helpers/live-table";
import { createRoles, type TestRoles } from "../helpers/roles";
import { auditLog, events, jobLog, sessionFor, specFor } from "../helpers/spec";

const DAY = 86_400_000;
const quiet: MigrateOptions = { ...MIGRATE_DEFAULTS, batchSize: 500, dryRun: false, log: () => {}, print: () => {} };

/** mallory's traps, created as mallory in public. Each calls the recorder, then does what the
 *  built-in does, so nothing visibly breaks. */
const TRAPS: [signature: string, returns: string, body: string][] = [
  // Closer matches than pg_catalog's: chosen even with pg_catalog first in the search_path.
  ["cardinality(a text[])", "integer", "pg_catalog.cardinality(a)"],
  ["array_length(a regclass[], d integer)", "integer", "pg_catalog.array_length(a, d)"],
  ["format(f text, a regclass)", "text", "pg_catalog.format(f, a)"],
  ["concat_ws(s text, a text, b text)", "text", "pg_catalog.concat_ws(s, a, b)"],
  ["quote_ident(n name)", "text", "pg_catalog.quote_ident(n::text)"],
  ["pg_sleep(s numeric)", "void", "pg_catalog.pg_sleep(s::float8)"],
  ["m_oid_eq_regclass(a oid, b regclass)", "boolean", "a OPERATOR(pg_catalog.=) b::oid"],
  ["m_regclass_cat(a regclass[], b regclass[])", "regclass[]", "a OPERATOR(pg_catalog.||) b"],
  // Same signatures: chosen once public comes before pg_catalog.
  ["set_config(a text, b text, c boolean)", "text", "pg_catalog.set_config(a, b, c)"],
  ["now()", "timestamptz", "pg_catalog.now()"],
  ["clock_timestamp()", "timestamptz", "pg_catalog.clock_timestamp()"],
  ["to_regclass(t text)", "regclass", "pg_catalog.to_regclass(t)"],
  ["current_setting(t text)", "text", "pg_catalog.current_setting(t)"],
  ["pg_get_expr(e pg_node_tree, r oid)", "text", "pg_catalog.pg_get_expr(e, r)"],
  ["hashtext(t text)", "integer", "pg_catalog.hashtext(t)"],
  ["m_text_eq(a text, b text)", "boolean", "a OPERATOR(pg_catalog.=) b"],
  ["m_ts_lt(a timestamptz, b timestamptz)", "boolean", "a OPERATOR(pg_catalog.<) b"],
];
const OPERATORS = [
  "CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.m_oid_eq_regclass)",
  "CREATE OPERATOR public.|| (LEFTARG = regclass[], RIGHTARG = regclass[], FUNCTION = public.m_regclass_cat)",
  "CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.m_text_eq)",
  "CREATE OPERATOR public.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = public.m_ts_lt)",
];

describe.each(PARTMAN_VERSIONS)(onServer("a hostile role with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let roles: TestRoles | undefined;
  let spec: StackSpec;
  let mallory: string;
  let dir: string;
  const clients: Client[] = [];
  const sessions: Session[] = [];

  /** A connection as the admin (or `user`): `safe` ones resolve names in pg_catalog only, so the
   *  test's own queries never spring a trap; the others get the database's hostile search_path. */
  const connect = async (opts: { user?: string; safe?: boolean } = {}) => {
    const url = new URL(db.url);
    if (opts.user) [url.username, url.password] = [opts.user, opts.user];
    const c = new Client({ connectionString: url.toString(), ...(opts.safe === false ? {} : { options: "-c search_path=pg_catalog" }) });
    await c.connect();
    clients.push(c);
    return c;
  };
  const open = async () => {
    const s = await sessionFor(db, spec.roles.owner);
    sessions.push(s);
    return s;
  };
  const asMallory = async (sql: string[]) => {
    const c = await connect({ user: mallory, safe: false });
    for (const s of sql) await c.query(s);
  };
  /** What the traps recorded: calls (the sequence), and who made them (the log, where it survived). */
  const sprung = async () => {
    const c = await connect();
    const calls = (await c.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM public.mallory_hits`)).rows[0].n;
    const log = (await c.query(`SELECT fn, acting, session FROM public.mallory_log ORDER BY 1`)).rows;
    const superuser = (await c.query(`SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [mallory])).rows[0].rolsuper;
    return { calls: Number(calls), log, superuser };
  };
  const plantTraps = async () => {
    await asMallory([
      `CREATE SEQUENCE public.mallory_hits`,
      `GRANT USAGE, UPDATE ON SEQUENCE public.mallory_hits TO PUBLIC`,
      `CREATE TABLE public.mallory_log (fn text, acting name, session name)`,
      `GRANT INSERT ON public.mallory_log TO PUBLIC`,
      `CREATE FUNCTION public.mallory_hit(fn text) RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_catalog.nextval('public.mallory_hits');
         INSERT INTO public.mallory_log VALUES (fn, current_user, session_user);
         BEGIN
           RESET ROLE;
           EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', '${mallory}');
         EXCEPTION WHEN OTHERS THEN NULL;
         END;
       END $$`,
      `GRANT EXECUTE ON FUNCTION public.mallory_hit(text) TO PUBLIC`,
      ...TRAPS.map(
        ([sig, returns, body]) =>
          `CREATE FUNCTION public.${sig} RETURNS ${returns} LANGUAGE plpgsql AS $$ BEGIN PERFORM public.mallory_hit('${sig}'); ` +
          `${returns === "void" ? `PERFORM ${body}; RETURN;` : `RETURN ${body};`} END $$`,
      ),
      ...OPERATORS,
    ]);
  };

  beforeEach(async () => {
    db = await createTestDatabase({ partman: version });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-hostile-"));
    const today = Math.floor(Date.now() / DAY) * DAY;
    const months = new Date(today - 200 * DAY).toISOString().slice(0, 8) + "01";
    spec = specFor(db, [
      auditLog({ startPartition: months, retention: "3 months", retentionSchema: "archive" }),
      jobLog({ retention: 2000, premake: 2 }),
      events({ premake: 3 }),
    ], { partmanVersion: version });
    spec.roles = { owner: `o_${db.name}`, app: `a_${db.name}` };
    mallory = `m_${db.name}`;
    roles = await createRoles(db, spec);
    // A live, unpartitioned public.events the owner will migrate, written by the app role.
    await createLiveEvents(db.url, 2000);
    const admin = await connect();
    await admin.query(`ALTER TABLE public.events OWNER TO ${spec.roles.owner}; GRANT SELECT, UPDATE ON public.events TO ${spec.roles.app}`);
    await admin.query(`CREATE ROLE ${mallory} LOGIN PASSWORD '${mallory}'`);
    await admin.query(`GRANT CREATE ON SCHEMA public TO PUBLIC`);
    await admin.query(`GRANT CREATE ON DATABASE ${db.name} TO ${mallory}`);
  });

  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.close();
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
    const admin = new Client({ connectionString: db.url.replace(/\/[^/]*$/, "/postgres") });
    await admin.connect();
    await admin.query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await admin.end();
    await (roles ?? db).drop();
    roles = undefined;
    const c = new Client({ connectionString: db.url.replace(/\/[^/]*$/, "/postgres") });
    await c.connect();
    await c.query(`DROP ROLE IF EXISTS ${mallory}`);
    await c.end();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(
    `pg_partman ${version}: neither apply, plan, status, verify --fix, migrate, archive nor the job's command (under SET ROLE and in pg_cron) ever calls her functions or operators, as owner or as administrator`,
    { timeout: 180_000 },
    async () => {
      await plantTraps();
      const admin = await connect();
      await admin.query(`ALTER DATABASE ${db.name} SET search_path = public, pg_catalog`);
      await admin.query(`ALTER DATABASE ${db.name} SET standard_conforming_strings = off`);
      // The traps work: a query of hers under the database's search_path springs one (and,
      // not being superuser, she is not made one).
      await (await connect({ user: mallory, safe: false })).query(`SELECT cardinality(ARRAY['x']::text[])`);
      expect(await sprung()).toEqual({ calls: 1, log: [{ fn: "cardinality(a text[])", acting: mallory, session: mallory }], superuser: false });
      await admin.query(`SELECT pg_catalog.setval('public.mallory_hits', 1, false); TRUNCATE public.mallory_log`);
      const hostile = await connect({ safe: false });

      // apply as the CLI and the providers do: tables, partition sets, partman-stack's objects, the job, maintenance.
      const session = await open();
      expect((await session.target.query(`SHOW standard_conforming_strings`)).rows).toEqual([{ standard_conforming_strings: "on" }]);
      const applied = (await applyStack(session, spec)).result;
      expect(applied.failed).toEqual([]);
      expect(applied.blocked.map((b) => b.table)).toEqual(["public.events"]);
      // The job's own command as apply runs it: SET ROLE to the owner, the admin the session user,
      // under the database's search_path; twice, ids arriving before each (partitions ahead, then
      // the oldest past the retention of 2000 ids).
      for (const rows of [2999, 1500]) {
        await admin.query(`INSERT INTO public.job_log (job_name, status) SELECT 'j', 'succeeded' FROM generate_series(1, $1)`, [rows]);
        await hostile.query(`SET ROLE ${spec.roles.owner}`);
        await hostile.query(maintenanceCommand(spec.maintenance));
        await hostile.query(`RESET ROLE`);
      }
      // The caller's session gets its own settings back.
      expect((await hostile.query(`SELECT pg_catalog.current_setting('search_path') AS p, pg_catalog.current_setting('standard_conforming_strings') AS s`)).rows).toEqual([{ p: "public, pg_catalog", s: "off" }]);
      const jobRun = (await admin.query(`SELECT created, expired, error FROM partman_stack.maintenance_runs WHERE parent_table = 'public.job_log' ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(jobRun.error).toBeNull();
      expect(jobRun.created.length).toBeGreaterThan(0);
      expect(jobRun.expired.length).toBeGreaterThan(0);

      // plan, status and verify (with its repairs).
      expect((await planStack(session, spec)).problems.map((p) => p.table)).toEqual(["public.events"]);
      expect((await status(session, spec)).tables.map((t) => t.state)).toEqual(["managed", "managed", "not-partitioned"]);
      await verify(session, spec, { fix: true });

      // migrate: a writer with the database's search_path writes during the catch-up, as the app role.
      const app = await connect({ safe: false });
      await app.query(`SET ROLE ${spec.roles.app}`);
      let wrote: Promise<unknown> | null = null;
      const log = (line: string) => {
        if (line.startsWith("catching up") && !wrote) wrote = app.query(`UPDATE public.events SET kind = 'during' WHERE id = 7`);
      };
      await migrateRun(session, spec, "public.events", { ...quiet, log });
      await wrote;
      expect((await admin.query(`SELECT kind FROM public.events WHERE id = 7`)).rows).toEqual([{ kind: "during" }]);
      await migrateFinish(session, spec, "public.events", quiet);

      // archive what retention moved to the archive schema.
      const archived = await archivePartitions(session, spec, "public.audit_log", { to: dir });
      expect(archived.partitions.length).toBeGreaterThan(0);
      expect(archived.failed).toBe(0);

      // The job as pg_cron runs it: a session of the owner's own, with the database's search_path.
      const cron = new Client({ connectionString: db.url.replace(/\/[^/]*$/, "/postgres"), options: "-c search_path=pg_catalog" });
      await cron.connect();
      clients.push(cron);
      const job = (await cron.query(`SELECT jobid FROM cron.job WHERE database = $1`, [db.name])).rows[0].jobid;
      await cron.query(`SET ROLE ${spec.roles.owner}`);
      await cron.query(`SELECT cron.alter_job($1, schedule => '* * * * *')`, [job]);
      await cron.query(`RESET ROLE`);
      const deadline = Date.now() + 75_000;
      let run: { status: string; return_message: string } | undefined;
      while (!run && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        run = (await cron.query(`SELECT status, return_message FROM cron.job_run_details WHERE jobid = $1 AND status IN ('succeeded', 'failed')`, [job])).rows[0];
      }
      expect(run).toMatchObject({ status: "succeeded" });

      expect(await sprung()).toEqual({ calls: 0, log: [], superuser: false });
    },
  );

  it(`pg_partman ${version}: partman_stack and partman_migrate made by her first are refused before anything changes, naming her and what to do, as the owner and as a superuser`, async () => {
    await asMallory([
      `CREATE SCHEMA partman_stack`,
      `CREATE FUNCTION partman_stack.expire(p_parent_table text, p_lock_timeout interval, p_max_wait interval) RETURNS void LANGUAGE sql AS 'SELECT'`,
    ]);
    const refusal = (acting: string) =>
      new RegExp(
        `^schema partman_stack is not ${acting}'s alone \\(schema partman_stack is owned by ${mallory}; function partman_stack\\.expire\\(text,interval,interval\\) is owned by ${mallory}\\), so partman-stack will not use it: ` +
          `.*Nothing was changed\\. Check what is in it .*DROP SCHEMA "partman_stack" CASCADE`,
      );
    for (const owner of [spec.roles.owner, null]) {
      const s = await sessionFor(db, owner);
      sessions.push(s);
      const err = await applyStack(s, spec).catch((e: Error) => e);
      expect(err).toBeInstanceOf(UntrustedSchema);
      expect((err as Error).message).toMatch(refusal(owner ?? "postgres"));
    }
    const admin = await connect();
    expect((await admin.query(`SELECT to_regclass('public.audit_log') AS t`)).rows).toEqual([{ t: null }]);
    expect((await admin.query(`SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'partman_stack'::regnamespace`)).rows).toEqual([{ n: 1 }]);

    // Once it is gone, apply makes it the owner's, and migrate refuses her partman_migrate the same way.
    await admin.query(`DROP SCHEMA partman_stack CASCADE`);
    await asMallory([`CREATE SCHEMA partman_migrate`]);
    const session = await open();
    expect((await applyStack(session, spec)).result.failed).toEqual([]);
    expect((await admin.query(`SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'partman_stack'`)).rows).toEqual([{ owner: spec.roles.owner }]);
    await expect(migrateRun(session, spec, "public.events", quiet)).rejects.toThrow(new RegExp(`^schema partman_migrate is not ${spec.roles.owner}'s alone \\(schema partman_migrate is owned by ${mallory}\\)`));
    expect((await admin.query(`SELECT relkind::text FROM pg_class WHERE oid = 'public.events'::regclass`)).rows).toEqual([{ relkind: "r" }]);
  });

  it(`pg_partman ${version}: a grant that lets her write partman_stack's tables or create in it or in pg_partman's schema is refused, naming the grant and the REVOKE`, async () => {
    const session = await open();
    await applyStack(session, spec);
    const admin = await connect();
    await admin.query(`GRANT USAGE ON SCHEMA partman_stack TO ${mallory}; GRANT UPDATE ON partman_stack.retention TO ${mallory}`);
    await expect(planStack(session, spec)).rejects.toThrow(
      `schema partman_stack is not ${spec.roles.owner}'s alone (${mallory} holds UPDATE on table partman_stack.retention), so partman-stack will not use it: ` +
        `what it holds runs as the owner in every maintenance run and as an administrator in every apply. Nothing was changed. Revoke them (REVOKE ALL ON table partman_stack.retention FROM "${mallory}"), then run again`,
    );
    await admin.query(`REVOKE ALL ON partman_stack.retention FROM ${mallory}; GRANT CREATE ON SCHEMA partman_stack TO PUBLIC`);
    await expect(planStack(session, spec)).rejects.toThrow(`(PUBLIC holds CREATE on schema partman_stack)`);
    await admin.query(`REVOKE CREATE ON SCHEMA partman_stack FROM PUBLIC`);
    expect((await planStack(session, spec)).problems.map((p) => p.table)).toEqual(["public.events"]);

    // pg_partman's functions look names up in their own schema first: nothing but pg_partman's may be there.
    await admin.query(`GRANT USAGE, CREATE ON SCHEMA partman TO PUBLIC`);
    await asMallory([`CREATE FUNCTION partman.cardinality(a text[]) RETURNS integer LANGUAGE sql AS 'SELECT 1'`]);
    await expect(planStack(session, spec)).rejects.toThrow(
      `pg_partman's schema is not safe to run pg_partman from (PUBLIC holds CREATE on schema partman; function partman.cardinality(text[]) (owned by ${mallory}) is not pg_partman's)`,
    );
    await admin.query(`DROP FUNCTION partman.cardinality(text[]); REVOKE CREATE ON SCHEMA partman FROM PUBLIC`);
    expect((await planStack(session, spec)).problems.map((p) => p.table)).toEqual(["public.events"]);
  });

  it(`pg_partman ${version}: she can neither use partman-stack's objects nor hold its fences; holding the advisory keys maintenance once used stalls nothing`, async () => {
    const session = await open();
    await applyStack(session, spec);
    const admin = await connect();
    // PUBLIC has no USAGE on the schema and no EXECUTE on its routines.
    expect(
      (await admin.query(
        `SELECT has_schema_privilege($1, 'partman_stack', 'USAGE') AS usage,
                bool_or(has_function_privilege($1, p.oid, 'EXECUTE')) AS execute
           FROM pg_proc p WHERE p.pronamespace = 'partman_stack'::regnamespace`,
        [mallory],
      )).rows,
    ).toEqual([{ usage: false, execute: false }]);
    const her = await connect({ user: mallory, safe: false });
    const fence = (await session.target.query(`SELECT partman_stack.maintenance_fence('public.audit_log')::text AS f`)).rows[0].f;
    await expect(her.query(`BEGIN; LOCK TABLE ${fence} IN SHARE UPDATE EXCLUSIVE MODE`)).rejects.toThrow(/permission denied for schema partman_stack/);
    await her.query(`ROLLBACK`);
    await expect(her.query(`UPDATE partman_stack.retention SET retention = '1 day'`)).rejects.toThrow(/permission denied for schema partman_stack/);
    // The keys of the advisory locks maintenance and apply took before: held, they stop nothing now.
    await her.query(`SELECT pg_advisory_lock(hashtext('partman-stack maintenance'), hashtext('public.audit_log')), pg_advisory_lock(hashtext('partman-stack apply'), hashtext('table public.audit_log'))`);
    const shrunk = specFor(db, [auditLog({ startPartition: spec.tables[0].startPartition, retention: "2 months", retentionSchema: "archive" }), jobLog({ retention: 2000, premake: 2 })], {
      partmanVersion: version,
      maintenance: { maxLockWait: "2 s" },
    });
    shrunk.roles = spec.roles;
    const started = Date.now();
    const r = (await applyStack(session, shrunk, { lockWaitMs: 2000 })).result;
    expect(r.failed).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
    const audit = r.maintenance.find((m) => m.table === "public.audit_log")!;
    expect(audit.run).toMatchObject({ deferred: [], error: null, deferredReason: null });
    expect(audit.run!.expired.length).toBe(1);
  });

  it(`pg_partman ${version}: a retention schema she owns is refused before any partition moves there, and one handed to her later stops the move at run time`, async () => {
    await asMallory([`CREATE SCHEMA archive`]);
    const session = await open();
    const refusal = expect.objectContaining({
      table: "public.audit_log",
      message:
        `table public.audit_log: retentionSchema archive is owned by ${mallory}, not by ${spec.roles.owner}, which owns the partitions maintenance would move there, ` +
        `and a schema's owner can drop what is in it; nothing is changed for this table. ALTER SCHEMA "archive" OWNER TO "${spec.roles.owner}", or declare another retentionSchema`,
    });
    expect((await planStack(session, spec)).problems).toContainEqual(refusal);
    const admin = await connect();
    await admin.query(`DROP SCHEMA archive`);
    // Applied with the owner's archive schema and a longer retention; then the schema is given to her.
    const longer = specFor(db, [auditLog({ startPartition: spec.tables[0].startPartition, retention: "5 months", retentionSchema: "archive" })], { partmanVersion: version });
    longer.roles = spec.roles;
    expect((await applyStack(session, longer)).result.failed).toEqual([]);
    const moved = async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'archive'::regnamespace AND relkind = 'r'`)).rows[0].n;
    const before = await moved();
    await admin.query(`ALTER SCHEMA archive OWNER TO ${mallory}`);
    // The shrink to 3 months is refused by plan, so apply changes nothing for the table...
    const shrink = (await applyStack(session, spec)).result;
    expect(shrink.blocked).toContainEqual(refusal);
    // ...and were it set anyway, maintenance moves nothing into her schema, and says why.
    await admin.query(`UPDATE partman_stack.retention SET retention = '3 months' WHERE parent_table = 'public.audit_log'`);
    await admin.query(`SET ROLE ${spec.roles.owner}`);
    await admin.query(`CALL partman_stack.run_maintenance(p_parent_table => 'public.audit_log')`);
    await admin.query(`RESET ROLE`);
    const last = (await admin.query(`SELECT expired, error FROM partman_stack.maintenance_runs WHERE parent_table = 'public.audit_log' ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(last).toEqual({
      expired: [],
      error: `expiring partitions: retention schema archive is owned by ${mallory}, not by ${spec.roles.owner}, which owns the partitions it would receive: its owner could drop them there`,
    });
    expect(await moved()).toBe(before);
  });

  it(`pg_partman ${version}: a retention schema she may create in is refused, and archive never takes a table of hers there for a partition`, async () => {
    const session = await open();
    expect((await applyStack(session, spec)).result.failed).toEqual([]);
    const admin = await connect();
    await admin.query(`GRANT USAGE, CREATE ON SCHEMA archive TO ${mallory}`);
    // Named as pg_partman names a month of audit_log, with rows she would like dumped and dropped.
    const lookalike = version.startsWith("4.") ? "audit_log_p2020_01" : "audit_log_p20200101";
    await asMallory([`CREATE TABLE archive.${lookalike} AS SELECT 1 AS x`]);
    expect((await planStack(session, spec)).problems).toContainEqual(
      expect.objectContaining({
        table: "public.audit_log",
        message: `table public.audit_log: ${mallory} may create objects in retentionSchema archive, where maintenance moves partitions and archive finds them; nothing is changed for this table. REVOKE CREATE ON SCHEMA "archive" FROM "${mallory}"`,
      }),
    );
    const archived = await archivePartitions(session, spec, "public.audit_log", { to: dir });
    expect(archived.partitions.map((p) => p.name)).not.toContain(lookalike);
    expect((await admin.query(`SELECT count(*)::int AS n FROM archive.${lookalike}`)).rows).toEqual([{ n: 1 }]);
  });
});
