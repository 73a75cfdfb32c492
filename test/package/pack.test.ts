// partman-stack as another project gets it: `npm pack`, the tarball installed into a scratch
// project, the `partman-stack` binary run from there against the test cluster, and a tiny Pulumi
// program (plain JavaScript in plain node) that imports PartmanDatabase under mocks and drives the
// PartitionedTable provider loaded from the text Pulumi would store in state, whose requires must
// resolve through the package's exports map.

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { clusterPassword, createTestDatabase, PARTMAN_VERSIONS, type TestDatabase } from "../helpers/database";
import { REPO_ROOT } from "../helpers/spec";

const run = promisify(execFile);
const npm = (args: string[], cwd: string) => run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, maxBuffer: 64 << 20 });

const PULUMI_VERSION: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules/@pulumi/pulumi/package.json"), "utf8")).version;

/** The tiny program: argv[2] is the server as JSON; prints what it saw and what the provider did. */
const PROGRAM = `
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const pulumi = require("@pulumi/pulumi");
const server = JSON.parse(process.argv[2]);
const resources = [];
pulumi.runtime
  .setMocks({
    newResource(a) {
      resources.push({ type: a.type, name: a.name, inputs: a.inputs });
      const state = { ...a.inputs };
      if (a.type === "random:index/randomPassword:RandomPassword") state.result = "mock-password";
      return { id: a.name + "-id", state };
    },
    call: (a) => a.inputs,
  }, "scratch", "ci", false)
  .then(async () => {
    const { PartmanDatabase } = require("partman-stack/pulumi");
    const db = new PartmanDatabase("events", {
      server: { host: "127.0.0.1", port: server.port, user: "postgres", sslmode: "disable" },
      password: server.password,
      database: server.database,
      partmanVersion: server.partmanVersion,
      tables: [{ name: "public.events", ddl: "sql/tables/events.sql", control: "created_at", interval: "1 day", premake: 2, retention: "30 days" }],
    });
    await new Promise((r) => pulumi.output({ tables: db.tables, maintenance: db.maintenance }).apply(r));
    const table = resources.find((r) => r.type === "pulumi-nodejs:dynamic/partman:PartitionedTable");
    // As Pulumi's dynamic provider host loads it: the serialized text alone, in this project.
    const text = table.inputs.__provider;
    const m = new Module(path.join(process.cwd(), "__provider.js"), module);
    m.paths = Module._nodeModulePaths(process.cwd());
    m._compile(text, m.id);
    const provider = m.exports.handler();
    const { __provider, ...wrapped } = table.inputs;
    // Pulumi hands a dynamic provider its secrets (the password) as plain values; mocks keep them wrapped.
    const inputs = JSON.parse(JSON.stringify(wrapped), (k, v) => (v && v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig ? v.value : v));
    const check = await provider.check({}, inputs);
    const created = await provider.create(inputs);
    const requires = [...new Set(text.match(/require\\("partman-stack[^"]*"\\)/g) || [])];
    process.stdout.write(JSON.stringify({ types: resources.map((r) => r.type + " " + r.name), requires, check, created }));
  })
  .catch((err) => {
    process.stderr.write(String(err && err.stack || err) + "\\n");
    process.exit(1);
  });
`;

describe("the packed package, installed into another project", () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-pack-"));
  const databases: TestDatabase[] = [];
  let tarball = "";
  const bin = path.join(scratch, "node_modules/.bin/partman-stack");

  beforeAll(async () => {
    const { stdout } = await npm(["pack", "--json", "--pack-destination", scratch], REPO_ROOT);
    tarball = path.join(scratch, JSON.parse(stdout.slice(stdout.indexOf("[")))[0].filename);
    fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true }));
    // @types/node as any TypeScript Pulumi project has it, for the type-check below.
    await npm(["install", "--prefer-offline", tarball, `@pulumi/pulumi@${PULUMI_VERSION}`, "@types/node@20"], scratch);
    fs.writeFileSync(path.join(scratch, "Pulumi.yaml"), "name: scratch\nruntime: nodejs\nstackConfigDir: stacks\n");
    fs.mkdirSync(path.join(scratch, "sql/tables"), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, "sql/tables/events.sql"), path.join(scratch, "sql/tables/events.sql"));
    fs.mkdirSync(path.join(scratch, "stacks"));
    fs.writeFileSync(path.join(scratch, "program.js"), PROGRAM);
  }, 300_000);

  afterAll(async () => {
    for (const db of databases) await db.drop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it("ships compiled JavaScript, declarations, the SQL it installs and a compiled binary, and nothing else", async () => {
    const { stdout } = await run("tar", ["-tzf", tarball]);
    const files = stdout.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/pulumi.js", "dist/pulumi.d.ts", "dist/cli/bin.js", "sql/maintenance/run_maintenance.sql", "sql/migrate/state.sql"]));
    expect(files.filter((f) => !/^(dist\/|sql\/(maintenance|migrate)\/|package\.json$|README\.md$|LICENSE)/.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    const pkg = JSON.parse(fs.readFileSync(path.join(scratch, "node_modules/partman-stack/package.json"), "utf8"));
    expect(pkg.private).toBeUndefined();
    expect(pkg.bin).toEqual({ "partman-stack": "dist/cli/bin.js" });
    // No TypeScript at run time.
    expect(fs.existsSync(path.join(scratch, "node_modules/tsx"))).toBe(false);
  });

  it("exposes the library and the Pulumi side by name, with types a TypeScript project can use", async () => {
    const script = `const lib = require("partman-stack"); const p = require("partman-stack/pulumi");
      process.stdout.write(JSON.stringify({ lib: ["planStack", "applyStack", "status", "verify", "migrateRun"].filter((k) => typeof lib[k] === "function"), pulumi: Object.keys(p).sort() }))`;
    const { stdout } = await run(process.execPath, ["-e", script], { cwd: scratch });
    expect(JSON.parse(stdout)).toEqual({ lib: ["planStack", "applyStack", "status", "verify", "migrateRun"], pulumi: ["MaintenanceJob", "PartitionedTable", "PartmanDatabase", "ServerPreflight"] });
    // A TypeScript program of the scratch project type-checks against the shipped declarations,
    // resolved through the exports map; a wrong table key is a type error there.
    fs.writeFileSync(
      path.join(scratch, "check.ts"),
      `import { PartmanDatabase, type PartmanDatabaseArgs } from "partman-stack/pulumi";
import { planStack, type StackSpec } from "partman-stack";
const args: PartmanDatabaseArgs = {
  server: { host: "db.example.com", port: 5432, user: "admin" },
  password: "secret",
  database: "app",
  tables: [{ name: "public.events", ddl: "sql/events.sql", control: "created_at", interval: "1 month", retention: "13 months" }],
  maintenance: { schedule: "15 * * * *", lockTimeout: "200ms" },
};
export const make = () => new PartmanDatabase("events-db", args);
export const plan: typeof planStack = planStack;
export type Spec = StackSpec;
// @ts-expect-error: retentionDays is not a table key
export const wrong: PartmanDatabaseArgs["tables"][number] = { name: "public.x", control: "at", interval: "1 day", retentionDays: 3 };
`,
    );
    fs.writeFileSync(path.join(scratch, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "node16", moduleResolution: "node16", strict: true, noEmit: true }, files: ["check.ts"] }));
    await run(path.join(REPO_ROOT, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: scratch }).catch((err) => {
      throw new Error(`tsc in the scratch project:\n${(err as { stdout: string }).stdout}`);
    });
  });

  for (const version of PARTMAN_VERSIONS) {
    it(`pg_partman ${version}: its binary applies a stack from the scratch project and reports it`, { timeout: 120_000 }, async () => {
      const db = await createTestDatabase({ partman: null });
      databases.push(db);
      fs.writeFileSync(
        path.join(scratch, "stacks", `Pulumi.cli-${db.name}.yaml`),
        `config:
  partman-stack:database:
    mode: external
    host: 127.0.0.1
    database: ${db.name}
    user: postgres
    sslmode: disable
    partmanVersion: "${version}"
  partman-stack:maintenance:
    jobName: pack-${db.name}
  partman-stack:tables:
    - name: public.events
      ddl: sql/tables/events.sql
      control: created_at
      interval: 1 day
      premake: 2
      retention: 30 days
`,
      );
      const env = { ...process.env, PARTMAN_STACK_DATABASE_URL: "" };
      const cli = async (args: string[]) => {
        try {
          return await run(bin, [...args, "--stack", `cli-${db.name}`, "--database-url", db.url], { cwd: scratch, env });
        } catch (err) {
          const e = err as { code: number; stderr: string; stdout: string };
          throw new Error(`partman-stack ${args.join(" ")} exited ${e.code}:\n${e.stderr}${e.stdout}`);
        }
      };
      await cli(["apply"]);
      const { stdout } = await cli(["status", "--json"]);
      const report = JSON.parse(stdout);
      expect(report.tables.map((t: { name: string }) => t.name)).toEqual(["public.events"]);
      expect(report.partmanVersion).toBe(version);
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query("SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'");
        expect(rows).toEqual([{ extversion: version }]);
        const parts = await c.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'public.events'::regclass");
        expect(parts.rows[0].n).toBeGreaterThanOrEqual(3);
      } finally {
        await c.end();
      }
    });

    it(`pg_partman ${version}: a Pulumi program imports PartmanDatabase, and its provider works from the text stored in state`, { timeout: 120_000 }, async () => {
      // The program's postgresql.Extension would have created pg_partman; mocks do not.
      const db = await createTestDatabase({ partman: version });
      databases.push(db);
      const { stdout } = await run(process.execPath, ["program.js", JSON.stringify({ port: Number(new URL(db.url).port), password: clusterPassword(), database: db.name, partmanVersion: version })], { cwd: scratch });
      const out = JSON.parse(stdout);
      expect(out.types).toEqual(
        expect.arrayContaining([
          "partman-stack:index:PartmanDatabase events",
          "pulumi-nodejs:dynamic/partman:ServerPreflight events-server-preflight",
          "pulumi-nodejs:dynamic/partman:PartitionedTable events-public.events",
          "pulumi-nodejs:dynamic/partman:MaintenanceJob events-maintenance-job",
          "postgresql:index/extension:Extension events-pg_partman",
        ]),
      );
      // The installed package's modules are required through its exports map, not copied.
      expect(out.requires.length).toBeGreaterThan(0);
      for (const r of out.requires) expect(r).toMatch(/^require\("partman-stack\/dist\/[a-z/-]+\.js"\)$/);
      expect(out.check.failures ?? []).toEqual([]);
      expect(out.created.outs).toMatchObject({ name: "public.events", partmanVersion: version });
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query("SELECT partition_interval FROM partman.part_config WHERE parent_table = 'public.events'");
        expect(rows).toHaveLength(1);
      } finally {
        await c.end();
      }
    });
  }
});
