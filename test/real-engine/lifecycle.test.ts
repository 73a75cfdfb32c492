// The real Pulumi engine (the CLI built by toolchain/pulumi/build.sh) running test/real-engine's
// program of PartitionedTable resources on a database of the test cluster, per pg_partman major,
// as a user drives it: `pulumi up` from nothing and again, the GitOps retention change made with
// `pulumi config set --path` and reviewed with `pulumi preview --diff`, `pulumi refresh` after a
// hand edit, an unacknowledged shrink refused at preview, the policy pack run by the CLI, a package release updating every table at once,
// `pulumi destroy` of protected tables, and a secret password kept out of plain text.

import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterPassword, createTestDatabase, onServer, PARTMAN_VERSIONS, queryRows, type TestDatabase } from "../helpers/database";
import { pulumiWorkspace, type PulumiRun, type PulumiWorkspace } from "../helpers/pulumi-cli";

const PROGRAM = path.join(__dirname, "program");
const TIMEOUT = { timeout: 300_000 };

interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { inputs: Record<string, unknown>; outputs: Record<string, unknown> };
  newState?: { inputs: Record<string, unknown> };
}

const ok = (r: PulumiRun, what: string) => expect(r.code, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
const changed = (steps: PreviewStep[]) => steps.filter((s) => s.op !== "same" && !s.urn.includes("pulumi:pulumi:Stack"));
/** A step as [op, resource name, the inputs whose values differ from the state's (what the
 *  provider's diff compares; outputs that are not inputs, such as partmanVersion, aside)]. */
function brief(s: PreviewStep): [string, string, string[]] {
  const olds = s.oldState?.outputs ?? {};
  const news = s.newState?.inputs ?? {};
  const keys = Object.keys(news).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
  return [s.op, s.urn.split("::").pop() ?? s.urn, keys.sort()];
}

describe.each(PARTMAN_VERSIONS)(onServer("the real Pulumi engine, pg_partman %s"), (version) => {
  let db: TestDatabase;
  let ws: PulumiWorkspace;
  const stack = `re${crypto.randomBytes(4).toString("hex")}`;
  const stackFile = path.join(PROGRAM, `Pulumi.${stack}.yaml`);
  const password = clusterPassword();
  const outputs: PulumiRun[] = [];
  const pulumi = async (...args: string[]) => {
    const r = await ws.run(args);
    outputs.push(r);
    return r;
  };
  const preview = async () => {
    const r = await pulumi("preview", "--json", "--stack", stack);
    ok(r, "pulumi preview --json");
    return JSON.parse(r.stdout) as { steps: PreviewStep[]; changeSummary: Record<string, number> };
  };

  beforeAll(async () => {
    db = await createTestDatabase({ partman: version });
    ws = pulumiWorkspace(PROGRAM);
    ok(await pulumi("stack", "init", stack), "pulumi stack init");
    const url = new URL(db.url);
    const doc = parse(fs.readFileSync(stackFile, "utf8")) ?? {};
    doc.config = {
      "partman-stack:connection": { host: url.hostname, port: Number(url.port), database: db.name, user: decodeURIComponent(url.username), sslmode: "disable" },
      "partman-stack:tables": [
        { name: "public.events", ddl: "sql/tables/events.sql", retention: "30 days" },
        { name: "public.audit_log", ddl: "sql/tables/audit_log.sql", retention: "90 days" },
      ],
    };
    fs.writeFileSync(stackFile, stringify(doc));
    ok(await pulumi("config", "set", "--secret", "--stack", stack, "partman-stack:databasePassword", password), "pulumi config set --secret");
  }, TIMEOUT.timeout);

  afterAll(async () => {
    await ws?.run(["stack", "rm", "--yes", "--force", "--preserve-config", "--stack", stack]);
    fs.rmSync(stackFile, { force: true });
    ws?.remove();
    await db?.drop();
  });

  it(`pg_partman ${version}: pulumi up from nothing creates every table; a second up changes nothing`, TIMEOUT, async () => {
    const first = await preview();
    expect(first.changeSummary).toMatchObject({ create: 3 });
    ok(await pulumi("up", "--yes", "--stack", stack), "pulumi up");
    const config = await queryRows(db.url, "SELECT parent_table, premake FROM partman.part_config ORDER BY 1");
    expect(config).toEqual([
      { parent_table: "public.audit_log", premake: 4 },
      { parent_table: "public.events", premake: 4 },
    ]);
    expect(changed((await preview()).steps)).toEqual([]);
    ok(await pulumi("up", "--yes", "--expect-no-changes", "--stack", stack), "second pulumi up");
  });

  it(`pg_partman ${version}: pulumi config set --path changes one table's retention; preview --diff shows that property alone; up applies it`, TIMEOUT, async () => {
    ok(await pulumi("config", "set", "--path", "--stack", stack, "partman-stack:tables[0].retention", "14 days"), "pulumi config set --path");
    expect(parse(fs.readFileSync(stackFile, "utf8")).config["partman-stack:tables"][0].retention).toBe("14 days");
    const steps = changed((await preview()).steps);
    expect(steps.map(brief)).toEqual([["update", "public.events", ["retention"]]]);
    const diff = await pulumi("preview", "--diff", "--stack", stack);
    ok(diff, "pulumi preview --diff");
    expect(diff.stdout).toMatch(/~ retention\s*:\s*"30 days" => "14 days"/);
    expect(diff.stdout).toMatch(/1 to update/);
    ok(await pulumi("up", "--yes", "--stack", stack), "pulumi up");
    expect(await queryRows(db.url, "SELECT parent_table, retention FROM partman_stack.retention ORDER BY 1")).toEqual([
      { parent_table: "public.audit_log", retention: "90 days" },
      { parent_table: "public.events", retention: "14 days" },
    ]);
    expect(changed((await preview()).steps)).toEqual([]);
    if (process.env.PARTMAN_STACK_SAVE_DIFF) fs.writeFileSync(process.env.PARTMAN_STACK_SAVE_DIFF, diff.stdout);
  });

  it(`pg_partman ${version}: a shrink that would drop partitions, not acknowledged, fails pulumi preview naming them, and changes nothing`, TIMEOUT, async () => {
    ok(await pulumi("config", "set", "--path", "--stack", stack, "partman-stack:tables[0].retention", "1 day"), "pulumi config set --path");
    const refused = await pulumi("preview", "--stack", stack);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/retention[^]*events_p\d{4}_?\d{2}_?\d{2}/);
    ok(await pulumi("config", "set", "--path", "--stack", stack, "partman-stack:tables[0].retention", "14 days"), "pulumi config set --path");
    expect(changed((await preview()).steps)).toEqual([]);
    expect(await queryRows(db.url, "SELECT retention FROM partman_stack.retention WHERE parent_table = 'public.events'")).toEqual([{ retention: "14 days" }]);
  });

  it(`pg_partman ${version}: the policy pack run by the CLI (--policy-pack) refuses a production retention below its minimum`, TIMEOUT, async () => {
    const pack = path.join(__dirname, "../../infra/policy");
    const asProd = path.join(ws.dir, "policy-config.json");
    fs.writeFileSync(asProd, JSON.stringify({ "prod-retention-minimum": { prodStacks: [stack], minimumRetention: "30 days" } }));
    const refused = await pulumi("preview", "--stack", stack, "--policy-pack", pack, "--policy-pack-config", asProd);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/prod-retention-minimum[^]*public\.events[^]*14 days/);
    expect(refused.stdout + refused.stderr).not.toMatch(/public\.audit_log[^\n]*minimum/);
    ok(await pulumi("preview", "--stack", stack, "--policy-pack", pack), "pulumi preview --policy-pack (not a production stack)");
  });

  it(`pg_partman ${version}: pulumi refresh reports a hand edit of part_config, and the next up repairs it`, TIMEOUT, async () => {
    await queryRows(db.url, "UPDATE partman.part_config SET premake = 9 WHERE parent_table = 'public.audit_log'");
    const refresh = await pulumi("refresh", "--yes", "--stack", stack);
    ok(refresh, "pulumi refresh");
    expect(refresh.stdout).toMatch(/public\.audit_log/);
    const steps = changed((await preview()).steps);
    expect(steps.map(brief)).toEqual([["update", "public.audit_log", ["premake"]]]);
    ok(await pulumi("up", "--yes", "--stack", stack), "pulumi up");
    expect(await queryRows(db.url, "SELECT premake FROM partman.part_config WHERE parent_table = 'public.audit_log'")).toEqual([{ premake: 4 }]);
  });

  it(`pg_partman ${version}: a new release of the package updates every table at once, under the engine's default parallelism`, TIMEOUT, async () => {
    ok(await pulumi("config", "set", "--stack", stack, "partman-stack:providerVersion", "99.0.0"), "pulumi config set");
    // Steps arrive in the order the engine ran them: side by side.
    expect(changed((await preview()).steps).map(brief).sort()).toEqual([
      ["update", "public.audit_log", ["providerVersion"]],
      ["update", "public.events", ["providerVersion"]],
    ]);
    const up = await pulumi("up", "--yes", "--stack", stack);
    ok(up, "pulumi up");
    expect(up.stdout).toMatch(/2 updated/);
    expect(changed((await preview()).steps)).toEqual([]);
    expect((await queryRows(db.url, "SELECT parent_table FROM partman.part_config ORDER BY 1")).length).toBe(2);
  });

  it(`pg_partman ${version}: pulumi destroy refuses the protected tables; once unprotected it forgets them and every row stays`, TIMEOUT, async () => {
    await queryRows(db.url, "INSERT INTO public.events (run_id, kind, created_at) SELECT gen_random_uuid(), 'test', now() - g * interval '1 hour' FROM generate_series(0, 47) g");
    const refused = await pulumi("destroy", "--yes", "--stack", stack);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/protect/);
    ok(await pulumi("state", "unprotect", "--all", "--yes", "--stack", stack), "pulumi state unprotect --all");
    ok(await pulumi("destroy", "--yes", "--stack", stack), "pulumi destroy");
    expect(await queryRows(db.url, "SELECT count(*)::int AS n FROM public.events")).toEqual([{ n: 48 }]);
    expect((await queryRows(db.url, "SELECT parent_table FROM partman.part_config ORDER BY 1")).length).toBe(2);
  });

  it(`pg_partman ${version}: the password set with --secret is in no output and only encrypted in the checkpoint`, async () => {
    const files = fs.readdirSync(ws.state, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".json"));
    const checkpoint = files.map((f) => fs.readFileSync(path.join(ws.state, f), "utf8")).join("\n");
    expect(checkpoint).toContain("ciphertext");
    expect(checkpoint).not.toContain(password);
    expect(fs.readFileSync(stackFile, "utf8")).not.toContain(password);
    for (const r of outputs) expect(r.stdout + r.stderr).not.toContain(password);
  });
});
