// examples/aws-rds under Pulumi's mocks: an RDS instance whose parameter group preloads pg_cron,
// and a PartmanDatabase on it whose resources connect to the instance's outputs.

import fs from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/spec";
import { TYPES, type MockResource } from "../helpers/pulumi-program";

const EXAMPLE = path.join(REPO_ROOT, "examples/aws-rds");
const ADDRESS = "events-db.abc123.eu-west-1.rds.amazonaws.com";

describe("examples/aws-rds", () => {
  const resources: MockResource[] = [];
  let exported: Record<string, unknown>;
  const one = (type: string, name?: string) => {
    const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
    expect(found, `${type} ${name ?? ""}`).toHaveLength(1);
    return found[0];
  };
  const value = (o: unknown) => new Promise((resolve) => (pulumi.output(o) as pulumi.Output<unknown>).apply(resolve));

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          resources.push({ type: args.type, name: args.name, inputs: args.inputs });
          const state: Record<string, unknown> = { ...args.inputs };
          if (args.type === "aws:rds/parameterGroup:ParameterGroup") state.name = `${args.name}-1a2b3c`;
          if (args.type === "aws:rds/instance:Instance") Object.assign(state, { address: ADDRESS, port: 5432, endpoint: `${ADDRESS}:5432` });
          if (args.type === "random:index/randomPassword:RandomPassword") state.result = `mock-${args.name}`;
          return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
      },
      "partman-aws-rds",
      "prod",
      false,
    );
    pulumi.runtime.setAllConfig({ "aws:region": "eu-west-1", "partman-aws-rds:dbPassword": "s3cret", "partman-aws-rds:retention": "13 months" }, ["partman-aws-rds:dbPassword"]);
    // Pulumi runs a program in its own folder: the table's `ddl` path is relative to it.
    const cwd = process.cwd();
    process.chdir(EXAMPLE);
    try {
      exported = (await import("../../examples/aws-rds/index")) as Record<string, unknown>;
      // Every resource is registered once its outputs resolve.
      for (const key of Object.keys(exported)) await value(exported[key]);
    } finally {
      process.chdir(cwd);
    }
  });

  it("creates the instance with a parameter group that preloads pg_cron and points it at the app database", () => {
    const group = one("aws:rds/parameterGroup:ParameterGroup").inputs;
    expect(group.family).toBe("postgres15");
    expect(group.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "shared_preload_libraries", value: expect.stringMatching(/(^|,)pg_cron(,|$)/), applyMethod: "pending-reboot" }),
        expect.objectContaining({ name: "cron.database_name", value: "app", applyMethod: "pending-reboot" }),
      ]),
    );
    const instance = one("aws:rds/instance:Instance").inputs;
    expect(instance).toMatchObject({ engine: "postgres", engineVersion: "15", dbName: "app", username: "platform_admin", parameterGroupName: "postgres15-partman-1a2b3c" });
  });

  it("declares the component's tables, job and objects on the instance's address, over TLS, acting as the owner", () => {
    expect(one("partman-stack:index:PartmanDatabase", "events-db")).toBeDefined();
    const table = one(TYPES.table, "events-db-public.events").inputs;
    expect(table).toMatchObject({
      name: "public.events",
      interval: "1 month",
      premake: 3,
      retention: "13 months",
      owner: "partman_owner",
      connection: { host: ADDRESS, port: 5432, database: "app", user: "platform_admin", sslmode: "require" },
    });
    expect(table.ddlSql).toContain("CREATE TABLE public.events");
    expect(one(TYPES.preflight, "events-db-server-preflight").inputs).toMatchObject({ needCron: true, cronDatabase: "app", connection: { host: ADDRESS } });
    expect(one(TYPES.job, "events-db-maintenance-job").inputs).toMatchObject({ schedule: "15 * * * *", jobName: "partman-maintenance", enabled: true });
    expect(one(TYPES.pgProvider, "events-db-postgres").inputs).toMatchObject({ host: ADDRESS, port: "5432", username: "platform_admin", sslmode: "require", superuser: "false" });
    expect(one(TYPES.extension, "events-db-pg_cron").inputs).toMatchObject({ name: "pg_cron", database: "app" });
  });

  it("exports the tables as applied, and keeps the passwords secret", async () => {
    expect(await value(exported.tables)).toEqual({ "public.events": { interval: "1 month", premake: 3, retention: "13 months", retentionSchema: null } });
    expect(await (pulumi.output(exported.appPassword) as any).isSecret).toBe(true);
    expect(one(TYPES.table, "events-db-public.events").inputs.password).not.toBe(undefined);
  });

  // The example carries its own DDL so that it can be copied out of the repo; it must not drift from the repo's.
  it("ships the same events DDL as the repo's sql/tables", () => {
    const read = (p: string) => fs.readFileSync(path.join(REPO_ROOT, p), "utf8");
    expect(read("examples/aws-rds/sql/events.sql")).toBe(read("sql/tables/events.sql"));
  });
});
