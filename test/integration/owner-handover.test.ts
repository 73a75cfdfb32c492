// A stack applied before its owner role existed (the CLI acting as the connecting admin), then the
// owner role created (as the Pulumi program does), with each pg_partman major: partman-stack, now
// acting as the owner, refuses to plan before anything changes, naming what the admin still owns
// and the statement that hands it over; run as the admin, that statement makes everything the
// owner's, and then apply takes over the job and maintenance runs as the owner.

import { Client } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Session } from "../../infra/db/session";
import { ForeignOwnership } from "../../infra/engine/ownership";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import type { StackSpec } from "../../infra/config/types";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { createRoles, type TestRoles } from "../helpers/roles";
import { events, sessionFor, specFor, tenantAudit } from "../helpers/spec";

describe.each(PARTMAN_VERSIONS)(onServer("handing a stack over to its owner role with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let roles: TestRoles | undefined;
  let spec: StackSpec;
  const sessions: Session[] = [];
  const open = async (owner: string | null) => {
    const s = await sessionFor(db, owner);
    sessions.push(s);
    return s;
  };
  /** A query as the connecting admin (no owner role), in `database`. */
  const asAdmin = async (sql: string, params: unknown[] = [], database = db.name) => {
    const c = new Client({ connectionString: db.url.replace(/\/[^/]*$/, `/${database}`) });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  const owners = () =>
    asAdmin(
      `SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c
        WHERE c.oid IN (SELECT relid FROM pg_partition_tree('public.events') UNION ALL SELECT relid FROM pg_partition_tree('public.tenant_audit'))
           OR c.relnamespace = 'partman_stack'::regnamespace AND c.relkind = 'r'
       UNION SELECT pg_get_userbyid(p.proowner) FROM pg_proc p WHERE p.pronamespace = 'partman_stack'::regnamespace`,
    );
  const jobUser = async () => (await asAdmin(`SELECT username FROM cron.job WHERE database = $1`, [db.name], "postgres")).map((r) => r.username);

  beforeEach(async () => {
    db = await createTestDatabase({ partman: version });
    spec = specFor(db, [events({ retention: "30 days" }), tenantAudit()]);
    spec.roles = { owner: `o_${db.name}`, app: `a_${db.name}` };
    // No owner role yet: the admin acts as itself.
    expect((await applyStack(await open(spec.roles.owner), spec)).result).toMatchObject({ blocked: [], failed: [] });
    roles = await createRoles(db, spec);
  });

  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.close();
    await asAdmin("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name], "postgres");
    await (roles ?? db).drop();
    roles = undefined;
  });

  it(`pg_partman ${version}: refuses to plan as the new owner before anything changes, naming what the admin owns and the statement that hands it over; after it, apply takes the job over and maintenance runs as the owner`, async () => {
    const owner = await open(spec.roles.owner);
    const refused = await planStack(owner, spec).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ForeignOwnership);
    const message = (refused as Error).message;
    expect(message).toMatch(new RegExp(`^partman-stack acts as role ${spec.roles.owner} \\(the stack's owner role\\), but postgres owns \\d+ of the objects it maintains \\(partman\\.template_public_events, partman\\.template_public_tenant_audit, public\\.events, public\\.events_default, `));
    expect(message).toContain(`Nothing was changed. Hand them over once, connected as postgres or a superuser`);
    expect(await jobUser()).toEqual(["postgres"]);
    expect(await owners()).toEqual([{ owner: "postgres" }]);

    // The statement, as a user would paste it.
    await asAdmin(message.slice(message.indexOf("\n") + 1));
    expect(await owners()).toEqual([{ owner: spec.roles.owner }]);

    const p = await planStack(owner, spec);
    expect(p.problems).toEqual([]);
    expect(p.steps.map((s) => s.action)).toEqual(["reassign-job"]);
    expect((await applyStack(owner, spec)).result).toMatchObject({ blocked: [], failed: [] });
    expect(await jobUser()).toEqual([spec.roles.owner]);

    // Maintenance as the owner: a day taken away comes back, a new range of tenants comes with its days, all the owner's.
    const newest = (await asAdmin(`SELECT max(c.relname) AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.events'::regclass AND c.relname <> 'events_default'`))[0].name;
    await owner.target.query(`DROP TABLE public.${newest}`);
    await owner.target.query(`INSERT INTO public.tenant_audit (tenant_id, action) VALUES (150, 'login')`);
    await owner.target.query(maintenanceCommand(spec.maintenance));
    expect(await owner.target.query(`SELECT parent_table, error FROM partman_stack.maintenance_runs WHERE error IS NOT NULL`)).toMatchObject({ rows: [] });
    expect((await asAdmin(`SELECT to_regclass('public.${newest}') IS NOT NULL AS back, to_regclass('public.tenant_audit_p200') IS NOT NULL AS range`))[0]).toEqual({ back: true, range: true });
    expect(await owners()).toEqual([{ owner: spec.roles.owner }]);
    expect((await planStack(owner, spec)).steps).toEqual([]);
  });
  it(`pg_partman ${version}: a connecting user who owns nothing declared, with no owner role to act as, is told who owns it, before anything changes`, async () => {
    // The owner role's login, connecting as itself, with the stack's owner role named something that does not exist.
    const url = new URL(db.url);
    url.username = spec.roles.owner;
    const elsewhere = { ...spec, roles: { ...spec.roles, owner: `missing_${db.name}` } };
    const session = await sessionFor({ url: url.toString() }, elsewhere.roles.owner);
    sessions.push(session);
    const refused = await planStack(session, elsewhere).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ForeignOwnership);
    expect((refused as Error).message).toMatch(
      new RegExp(`^partman-stack acts as role ${spec.roles.owner} \\(the user it connects as, the stack's owner role missing_${db.name} not existing\\), but postgres owns \\d+ of the objects it maintains \\(.*\\): made by another role, they cannot be maintained by ${spec.roles.owner}\\. Nothing was changed\\.`),
    );
    expect(await owners()).toEqual([{ owner: "postgres" }]);
  });
});
