// The providers survive Pulumi's closure serialization: compiled by tsc (the run's shared build),
// serialized in a plain node process from a copy of the compiled sources, and, with that copy
// deleted, loaded from the serialized text alone and run against the real cluster.

import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { inject } from "vitest";
import { sharedBuild } from "../helpers/build";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { eventsTableInputs } from "../helpers/provider-inputs";
import { createRoles, type TestRoles } from "../helpers/roles";
import { events, REPO_ROOT, specFor } from "../helpers/spec";

const PROVIDERS = ["partitionedTable", "maintenanceJob", "serverPreflight"];

describe("dynamic providers after closure serialization", () => {
  // Inside the repo so the serialized code's require("pg") resolves as it does in a Pulumi project.
  const work = path.join(REPO_ROOT, ".partman", `serialize-${crypto.randomBytes(4).toString("hex")}`);
  const dist = path.join(work, "dist");
  const serialized = path.join(work, "providers");
  let db: TestDatabase;
  let roles: TestRoles;

  beforeAll(async () => {
    fs.mkdirSync(serialized, { recursive: true });
    db = await createTestDatabase({ partman: "5.2.4" });
    const spec = specFor(db, [events()]);
    spec.roles = { owner: `o_${db.name}`, app: `a_${db.name}` };
    roles = await createRoles(db, spec);
  });

  afterAll(async () => {
    fs.rmSync(work, { recursive: true, force: true });
    const c = new Client({ connectionString: inject("pgUrl") });
    await c.connect();
    await c.query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await c.end();
    await roles.drop();
  });

  it("serializes each provider from tsc output and runs create/read from the serialized text alone", { timeout: 180_000 }, async () => {
    const build = sharedBuild();
    for (const p of ["infra", "sql", "test/serialization", "package.json"]) fs.cpSync(path.join(build, p), path.join(dist, p), { recursive: true });
    const out = execFileSync(process.execPath, [path.join(dist, "test/serialization/serialize-providers.js"), serialized], { cwd: REPO_ROOT }).toString();
    expect(out.trim().split("\n").map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual(PROVIDERS.map((p) => `${p} handler`));

    const exercise = path.join(work, "exercise-providers.js");
    fs.copyFileSync(path.join(dist, "test/serialization/exercise-providers.js"), exercise);
    fs.rmSync(dist, { recursive: true });
    for (const p of PROVIDERS) {
      const text = fs.readFileSync(path.join(serialized, `${p}.js`), "utf8");
      // Local code travels by value; only packages are required.
      expect(text).not.toContain(dist);
      expect(text).not.toContain(build);
      expect(text).not.toMatch(/require\(["']\.{1,2}\//);
      expect(text).toContain(`require("pg")`);
      // No credentials captured: they arrive as inputs.
      expect(text).not.toContain(inject("pgUrl"));
    }

    const port = Number(new URL(inject("pgUrl")).port);
    const connected = {
      stack: "test",
      connection: { host: "127.0.0.1", port, database: db.name, user: "postgres", sslmode: "disable" as const },
      password: "",
      owner: roles.owner,
      providerVersion: "0.0.0-test",
    };
    const input = {
      preflight: { ...connected, partmanVersion: "5.2.4", needCron: true, cronDatabase: "postgres" },
      table: eventsTableInputs(connected),
      job: { ...connected, jobName: `partman-${db.name}`, schedule: "*/30 * * * *", analyze: false, enabled: true, lockTimeout: "200ms", maxLockWait: "1 min" },
    };
    const result = JSON.parse(execFileSync(process.execPath, [exercise, serialized, JSON.stringify(input)], { cwd: REPO_ROOT }).toString());

    expect(result.preflightCreated.outs.serverVersion).toMatch(/^15\./);
    expect(result.tableCheck.failures).toEqual([]);
    expect(result.tableCreated).toMatchObject({ id: "public.events", outs: { partmanVersion: "5.2.4" } });
    expect(result.tableRead.props).toMatchObject({ retention: "30 days", premake: 4, interval: "1 day" });
    expect(result.jobCreated.outs).toMatchObject({ schedule: "*/30 * * * *", cronDatabase: "postgres", jobId: expect.any(Number) });
    expect(result.jobRead.props).toMatchObject({ schedule: "*/30 * * * *", active: true });

    const c = new Client({ connectionString: db.url });
    await c.connect();
    const cfg = await c.query(
      `SELECT r.retention, c.premake, c.retention AS partman_retention FROM partman.part_config c JOIN partman_stack.retention r USING (parent_table) WHERE parent_table = 'public.events'`,
    );
    await c.end();
    expect(cfg.rows).toEqual([{ retention: "30 days", premake: 4, partman_retention: null }]);
  });
});
