// `pulumi up -s dev`'s resource graph (mocks): a container built from the repo's Dockerfile with
// pg_cron preloaded, a retained data volume, and the dev stack's tables and job on it.

import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, TYPES, type ProgramRun } from "../helpers/pulumi-program";

describe("the dev stack's resources", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram("dev");
  });

  it("provisions an image from infra/docker, a named volume and a healthy-waited container with pg_cron preloaded", () => {
    const image = run.one(TYPES.image);
    expect(image.inputs).toMatchObject({ imageName: "partman-stack/postgres:18.6-partman5.5.0-cron1.6.8", skipPush: true, build: { context: expect.stringMatching(/infra\/docker$/) } });
    expect(run.one(TYPES.volume).inputs).toEqual({ name: "partman-stack-dev-pgdata-18" });
    const c = run.one(TYPES.container).inputs;
    expect(c.command).toEqual(["postgres", "-c", "shared_preload_libraries=pg_cron", "-c", "cron.database_name=partman_stack", "-c", "timezone=UTC"]);
    expect(c.volumes).toEqual([{ volumeName: "partman-stack-dev-pgdata-18", containerPath: "/var/lib/postgresql" }]);
    expect(c.ports).toEqual([{ internal: 5432, external: 55432, ip: "127.0.0.1" }]);
    expect(c.healthcheck.tests).toEqual(["CMD-SHELL", "pg_isready -U postgres -d partman_stack"]);
    expect(c.wait).toBe(true);
    expect(c.envs).toEqual(["POSTGRES_PASSWORD=mock-postgres-password", "POSTGRES_DB=partman_stack"]);
  });

  it("creates the extensions, roles and grants in the container's database", () => {
    expect(run.one(TYPES.extension, "partman-pg_partman").inputs).toMatchObject({ name: "pg_partman", schema: "partman", version: "5.5.0", database: "partman_stack" });
    expect(run.one(TYPES.extension, "partman-pg_cron").inputs).toMatchObject({ name: "pg_cron", database: "partman_stack" });
    expect(run.byType(TYPES.role).map((r) => [r.inputs.name, r.inputs.login])).toEqual([["partman_owner", true], ["partman_app", true]]);
    expect(run.one(TYPES.pgProvider).inputs).toMatchObject({ host: "127.0.0.1", port: "55432", username: "postgres", sslmode: "disable", superuser: "false" });
    expect(run.one(TYPES.grant, "partman-app-tables-public").inputs).toMatchObject({ role: "partman_app", objectType: "table", objects: ["events", "audit_log", "job_log", "user_events", "campaign_participants"], privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"] });
    expect(run.one(TYPES.defaultPrivileges).inputs).toMatchObject({ role: "partman_app", owner: "partman_owner", schema: "public", objectType: "table" });
    expect(run.byType(TYPES.schema).map((s) => s.inputs.name)).toEqual(["partman"]);
  });

  it("declares each table with the dev stack's retention and premake, acting as the owner", () => {
    const tables = run.byType(TYPES.table);
    // Children of the program's PartmanDatabase "partman", named after it.
    expect(run.one("partman-stack:index:PartmanDatabase", "partman")).toBeDefined();
    expect(tables.map((t) => t.name)).toEqual(["partman-public.events", "partman-public.audit_log", "partman-public.job_log", "partman-public.user_events", "partman-public.campaign_participants"]);
    expect(tables.map((t) => [t.inputs.name, t.inputs.interval, t.inputs.premake, t.inputs.retention])).toEqual([
      ["public.events", "1 day", 7, "14 days"],
      ["public.audit_log", "1 day", 7, "30 days"],
      ["public.job_log", "100000", 4, "2000000"],
      ["public.user_events", "1 day", 7, "14 days"],
      ["public.campaign_participants", "1", 3, "50"],
    ]);
    // The UUIDv7 table goes to its provider as one: pg_partman 5.2.4's encoder and decoder.
    expect(tables[3].inputs).toMatchObject({ control: "id", uuidv7: true });
    // The campaign table as a list set, each campaign split by month.
    expect(tables[4].inputs).toMatchObject({ control: "campaign_id", type: "list", subpartition: { control: "joined_at", interval: "1 month", premake: 2 } });
    expect(tables[0].inputs).toMatchObject({ owner: "partman_owner", connection: { host: "127.0.0.1", port: 55432, database: "partman_stack", user: "postgres" } });
    expect(tables[0].inputs.ddlSql).toContain("CREATE TABLE public.events");
    expect(run.one(TYPES.job).inputs).toMatchObject({ jobName: "partman-maintenance", schedule: "0 * * * *", enabled: true });
  });

  it("keeps passwords secret in the outputs", async () => {
    expect(await run.isSecret(["connection", "password"])).toBe(true);
    expect(await run.isSecret(["roles", "appPassword"])).toBe(true);
    expect(run.outputs.tables).toEqual({
      "public.events": { interval: "1 day", premake: 7, retention: "14 days", retentionSchema: null },
      "public.audit_log": { interval: "1 day", premake: 7, retention: "30 days", retentionSchema: null },
      "public.job_log": { interval: "100000", premake: 4, retention: "2000000", retentionSchema: null },
      "public.user_events": { interval: "1 day", premake: 7, retention: "14 days", retentionSchema: null },
      "public.campaign_participants": { interval: "1", premake: 3, retention: "50", retentionSchema: null },
    });
  });
});
