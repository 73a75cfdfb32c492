// `pulumi up -s prod`'s resource graph (mocks): no container, an existing server checked up front,
// 90 days of weekly events and 13 months of monthly audit_log moved to an owner-owned archive schema.

import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, TYPES, type ProgramRun } from "../helpers/pulumi-program";

describe("the prod stack's resources", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram("prod", { "partman-stack:databasePassword": "prod-secret" });
  });

  it("provisions no container, image or volume and targets the external server", () => {
    expect([...run.byType(TYPES.container), ...run.byType(TYPES.image), ...run.byType(TYPES.volume)]).toEqual([]);
    const connection = { host: "prod-db.internal.example.com", port: 5432, database: "app", user: "platform_admin", sslmode: "verify-full" };
    expect(run.one(TYPES.preflight).inputs).toMatchObject({ connection, owner: null, needCron: true, cronDatabase: "postgres", partmanVersion: null });
    expect(run.one(TYPES.pgProvider).inputs).toMatchObject({ host: "prod-db.internal.example.com", username: "platform_admin", sslmode: "verify-full", superuser: "false" });
    expect(run.one(TYPES.extension, "partman-pg_cron").inputs).toMatchObject({ database: "postgres" });
    expect(run.one(TYPES.grant, "partman-owner-cron-database").inputs).toMatchObject({ database: "postgres", role: "partman_owner", privileges: ["CONNECT"] });
    expect(run.one(TYPES.grantRole, "partman-admin-acts-as-owner").inputs).toEqual({ role: "platform_admin", grantRole: "partman_owner" });
    expect(run.one(TYPES.grantRole, "partman-owner-member-of-pg_read_all_stats").inputs).toEqual({ role: "partman_owner", grantRole: "pg_read_all_stats" });
  });

  it("declares prod's retention and premake per table, with the archive schema owned by the owner", () => {
    expect(run.byType(TYPES.table).map((t) => [t.inputs.name, t.inputs.interval, t.inputs.premake, t.inputs.retention, t.inputs.retentionSchema])).toEqual([
      ["public.events", "1 week", 4, "90 days", null],
      ["public.audit_log", "1 month", 3, "13 months", "archive"],
    ]);
    expect(run.one(TYPES.schema, "partman-schema-archive").inputs).toMatchObject({ name: "archive", owner: "partman_owner", database: "app" });
    expect(run.one(TYPES.job).inputs).toMatchObject({ schedule: "5 * * * *", analyze: false });
  });

  it("keeps the password secret everywhere it goes", async () => {
    expect(await run.isSecret(["connection", "password"])).toBe(true);
    expect(run.outputs.connection).toMatchObject({ host: "prod-db.internal.example.com", password: "prod-secret" });
    expect(JSON.stringify(run.one(TYPES.preflight).inputs.password)).not.toBe(JSON.stringify("prod-secret"));
  });
});
