// plan() is pure: given a declaration and a database state it returns steps and problems. These
// cover servers the throwaway cluster cannot be (no pg_cron preloaded, no pg_partman installed);
// everything else is tested against real databases in test/integration.

import { describe, expect, it } from "vitest";
import type { DatabaseState, TableState } from "../../infra/engine/introspect";
import { plan } from "../../infra/engine/plan";
import { partmanInstall } from "../../infra/partman/version";
import { validateStack } from "../../infra/config/validate";
import { events, REPO_ROOT } from "../helpers/spec";

const spec = (partmanVersion?: string) =>
  validateStack("prod", REPO_ROOT, {
    tables: [events()],
    database: { mode: "external", host: "db", database: "app", user: "owner", ...(partmanVersion ? { partmanVersion } : {}) },
  });

const absent: TableState = { name: "public.events", relkind: null, strategy: null, keyColumns: [], kind: null, maxId: null, columns: [], hasDefault: false, defaultRelation: null, childCount: 0, partConfig: null, retention: null, lastRun: null, partitions: [], subConfig: null, subRetention: null, subParents: [] };

function server(overrides: Partial<DatabaseState> = {}): DatabaseState {
  return {
    database: "app",
    now: "2026-11-23T12:00:00.000Z",
    serverVersion: "15.8",
    user: "owner",
    superuser: false,
    partman: null,
    partmanAvailable: ["4.7.2", "5.2.4", "5.5.0"],
    partmanDefault: "4.7.2",
    jobmon: false,
    cron: { preloaded: true, database: "postgres", version: "1.4-1", availableVersion: "1.4-1", job: null, lastRun: null, clashes: [] },
    schemas: ["public"],
    schemaOwners: { public: { owner: "pg_database_owner", creators: [] } },
    tables: { "public.events": absent },
    undeclared: [],
    maintenanceObjects: null,
    ...overrides,
  };
}

describe("plan on servers that lack what partman-stack needs", () => {
  it("names the parameter to set when pg_cron is not preloaded, and plans nothing to apply", () => {
    const p = plan(spec(), server({ cron: { preloaded: false, database: null, version: null, availableVersion: null, job: null, lastRun: null, clashes: [] } }));
    expect(p.problems).toEqual([
      {
        unit: "maintenance job",
        message: expect.stringContaining(
          `pg_cron is not loaded on this server, so maintenance cannot be scheduled: set shared_preload_libraries = 'pg_cron' and cron.database_name = 'app' and restart PostgreSQL (RDS: a parameter group; Cloud SQL: the cloudsql.enable_pg_cron flag`,
        ),
      },
    ]);
  });

  it("reports a missing pg_partman with how to install it", () => {
    const p = plan(spec(), server({ partmanAvailable: [], partmanDefault: null }));
    expect(p.problems).toEqual([{ unit: "extensions", message: expect.stringMatching(/^the pg_partman extension is not available on this server; install it \(Debian: apt-get install postgresql-15-partman/) }]);
    expect(p.steps).toEqual([]);
  });

  it("names the versions that are available when the declared one is not", () => {
    const p = plan(spec("5.3.0"), server());
    expect(p.problems[0].message).toMatch(/^pg_partman 5\.3\.0 is not available on this server \(available: 4\.7\.2, 5\.2\.4, 5\.5\.0\); .* or change database\.partmanVersion$/);
  });

  it("schedules in the target database from the cron database, and creates pg_cron there if missing", () => {
    const p = plan(spec("5.2.4"), server({ cron: { preloaded: true, database: "postgres", version: null, availableVersion: "1.4-1", job: null, lastRun: null, clashes: [] } }));
    const job = p.steps.filter((s) => s.unit === "maintenance job");
    expect(job.map((s) => [s.action, s.database])).toEqual([
      ["create-cron-extension", "postgres"],
      ["schedule-job", "postgres"],
    ]);
    expect(job[1].sql).toEqual([
      `SELECT cron.schedule_in_database('partman-maintenance', '0 * * * *', 'CALL partman_stack.run_maintenance(p_analyze => false, p_lock_timeout => ''200ms'', p_max_lock_wait => ''1 min'')', 'app');`,
    ]);
    // partman-stack's objects come first, in the target database, marked with their version.
    const objects = p.steps.find((s) => s.action === "install-objects")!;
    expect([objects.unit, objects.database]).toEqual(["partman-stack objects", "app"]);
    // Installs take turns on the schema's own lock, and only into a schema that is the acting role's alone.
    expect(objects.sql[0]).toMatch(/^DO \$\$ BEGIN CREATE SCHEMA IF NOT EXISTS partman_stack AUTHORIZATION CURRENT_USER; .*\n\nCOMMENT ON SCHEMA partman_stack IS 'partman-stack: being installed';\n\nDO \$\$ DECLARE v_problems text;/);
    expect(objects.sql[0]).toContain(`REVOKE ALL ON ALL ROUTINES IN SCHEMA partman_stack FROM PUBLIC;`);
    expect(objects.sql[0]).toContain(`PERFORM "partman".run_maintenance(p_parent_table := p_parent_table, p_analyze := p_analyze);`);
    expect(objects.sql[0]).toMatch(/COMMENT ON SCHEMA partman_stack IS 'partman-stack sql\/maintenance sha256:[0-9a-f]{16}';$/);
  });

  it("refuses to create a missing table that declares no DDL file", () => {
    const noDdl = validateStack("prod", REPO_ROOT, { tables: [events({ ddl: null })], database: { mode: "external", host: "db", database: "app", user: "owner" } });
    expect(plan(noDdl, server()).problems).toEqual([
      { unit: "table public.events", table: "public.events", message: "table public.events does not exist and declares no ddl file to create it from: add ddl: sql/tables/events.sql with its CREATE TABLE … PARTITION BY RANGE (created_at)" },
    ]);
  });

  it("drops 4.x's fresh default partition as the catalog names it, and only while empty, and shows that exact SQL", () => {
    const spec = validateStack("prod", REPO_ROOT, { tables: [events({ defaultPartition: false })], database: { mode: "external", host: "db", database: "app", user: "owner" } });
    const drop = plan(spec, server({ partman: partmanInstall("4.7.2", "partman") })).steps.find((s) => s.action === "drop-default")!;
    expect(drop.summary).toBe("drop the default partition pg_partman 4.7.2 always creates (the parent's DEFAULT partition in the catalog, while empty)");
    expect(drop.sql).toEqual([
      [
        `DO $DropDefault$`,
        `DECLARE v_default regclass; v_rows boolean;`,
        `BEGIN`,
        `  SELECT c.oid::regclass INTO v_default FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid`,
        `   WHERE i.inhparent = '"public"."events"'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';`,
        `  IF v_default IS NULL THEN RETURN; END IF;`,
        `  EXECUTE format('SELECT EXISTS (SELECT FROM %s)', v_default) INTO v_rows;`,
        `  IF v_rows THEN RAISE EXCEPTION 'default partition % of % holds rows: not dropped', v_default, '"public"."events"'::regclass; END IF;`,
        `  EXECUTE format('DROP TABLE %s', v_default);`,
        `END`,
        `$DropDefault$;`,
      ].join("\n"),
    ]);
    expect(plan(spec, server({ partman: partmanInstall("5.2.4", "partman") })).steps.some((s) => s.action === "drop-default")).toBe(false);
  });

  it("refuses a declared version across a major, and the tables plan for the installed one", () => {
    const p = plan(spec("5.2.4"), server({ partman: partmanInstall("4.7.2", "partman") }));
    expect(p.problems).toEqual([
      { unit: "extensions", message: expect.stringMatching(/^pg_partman 4\.7\.2 is installed but stack "prod" declares partmanVersion 5\.2\.4: pg_partman 4\.7\.2 → 5\.5\.0 crosses a major release, which pg_partman documents as a migration of its own/) },
    ]);
    expect(p.steps.find((s) => s.action === "create-parent")!.sql[0]).toContain("p_type => 'native'");
  });

  it("updates within a major in place, and plans the tables for the release it updates to", () => {
    const p = plan(spec("5.5.0"), server({ partman: partmanInstall("5.2.4", "partman") }));
    expect(p.problems).toEqual([]);
    expect(p.steps.filter((s) => s.unit === "extensions").map((s) => [s.action, s.sql.slice(1)])).toEqual([
      [
        "update-extension",
        [
          `ALTER EXTENSION pg_partman UPDATE TO '5.5.0';`,
          `UPDATE "partman".part_config SET time_encoder = replace(time_encoder, '"', ''), time_decoder = replace(time_decoder, '"', '') WHERE strpos(time_encoder, '"') > 0 OR strpos(time_decoder, '"') > 0;`,
          `UPDATE "partman".part_config_sub SET sub_time_encoder = replace(sub_time_encoder, '"', ''), sub_time_decoder = replace(sub_time_decoder, '"', '') WHERE strpos(sub_time_encoder, '"') > 0 OR strpos(sub_time_decoder, '"') > 0;`,
        ],
      ],
    ]);
    // partman-stack's objects first: the update takes pg_partman's config tables through their lock helper.
    expect(p.steps.findIndex((s) => s.action === "install-objects")).toBeLessThan(p.steps.findIndex((s) => s.action === "update-extension"));
    expect(p.steps.find((s) => s.action === "create-parent")!.sql.at(-1)).toMatch(/^SELECT "partman"\.create_partition\(/);
    expect(plan(spec("5.6.0"), server({ partman: partmanInstall("5.2.4", "partman") })).problems[0].message).toMatch(/: pg_partman 5\.6\.0 is not available on this server \(available: 4\.7\.2, 5\.2\.4, 5\.5\.0\)/);
  });
});
