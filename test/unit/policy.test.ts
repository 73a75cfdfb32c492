// The CrossGuard policies, called directly with constructed arguments (the Pulumi CLI cannot run
// here, and constructing the PolicyPack in this process would start its gRPC server here); then
// the pack itself in a child process, started the way the CLI starts it.

import { spawn, type ChildProcess } from "child_process";
import { readFileSync } from "fs";
import { createRequire } from "module";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { noUnacknowledgedShrink, PARTITIONED_TABLE, prodRetentionMinimum, tablesProtected } from "../../infra/policy/policies";

function args(opts: { stack?: string; props?: Record<string, unknown>; protect?: boolean; config?: object; type?: string }): ResourceValidationArgs {
  const name = "public.events";
  return {
    type: opts.type ?? PARTITIONED_TABLE,
    name,
    urn: `urn:pulumi:${opts.stack ?? "prod"}::partman-stack::${opts.type ?? PARTITIONED_TABLE}::${name}`,
    props: { name, retention: "90 days", ...opts.props },
    opts: { protect: opts.protect ?? true, ignoreChanges: [], aliases: [], customTimeouts: {}, additionalSecretOutputs: [] } as unknown as ResourceValidationArgs["opts"],
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => (opts.config ?? {}) as T,
  } as unknown as ResourceValidationArgs;
}

function violations(policy: ResourceValidationPolicy, a: ResourceValidationArgs): string[] {
  const report = vi.fn();
  (policy.validateResource as (a: ResourceValidationArgs, r: (m: string) => void) => void)(a, report);
  return report.mock.calls.map((c) => c[0]);
}

describe("prod-retention-minimum", () => {
  it("rejects a prod retention under the minimum, naming table, value and fix", () => {
    expect(violations(prodRetentionMinimum, args({ props: { retention: "30 days" } }))).toEqual([
      `table public.events in stack prod: retention "30 days" is shorter than the minimum "90 days" for production stacks; set retention to at least "90 days" in stacks/Pulumi.prod.yaml (or change the policy's minimumRetention)`,
    ]);
  });

  it("passes at or above the minimum (months count as 30 days), keep-forever, other stacks and other resources", () => {
    for (const retention of ["90 days", "3 months", "13 months", null]) expect(violations(prodRetentionMinimum, args({ props: { retention } }))).toEqual([]);
    expect(violations(prodRetentionMinimum, args({ stack: "dev", props: { retention: "7 days" } }))).toEqual([]);
    expect(violations(prodRetentionMinimum, args({ type: "postgresql:index/role:Role", props: { retention: "1 day" } }))).toEqual([]);
  });

  it("follows its config: another minimum and other production stacks", () => {
    const config = { minimumRetention: "13 months", prodStacks: ["prod", "prod-eu"] };
    expect(violations(prodRetentionMinimum, args({ stack: "prod-eu", props: { retention: "90 days" }, config }))).toEqual([
      `table public.events in stack prod-eu: retention "90 days" is shorter than the minimum "13 months" for production stacks; set retention to at least "13 months" in stacks/Pulumi.prod-eu.yaml (or change the policy's minimumRetention)`,
    ]);
    // 13 months = 390 days: "1 year 1 month" is equal, 56 weeks (392 days) longer, 12 months shorter.
    for (const retention of ["13 months", "1 year 1 month", "56 weeks"]) expect(violations(prodRetentionMinimum, args({ props: { retention }, config }))).toEqual([]);
    expect(violations(prodRetentionMinimum, args({ props: { retention: "12 months" }, config }))).toHaveLength(1);
    expect(violations(prodRetentionMinimum, args({ stack: "staging", props: { retention: "1 day" }, config }))).toEqual([]);
    // prodStacks replaces the default list: prod itself is then not checked.
    expect(violations(prodRetentionMinimum, args({ props: { retention: "1 day" }, config: { prodStacks: ["live"] } }))).toEqual([]);
  });

  it("holds integer-range tables (retention in ids) to minimumIdRetention when set, never to the time minimum", () => {
    expect(violations(prodRetentionMinimum, args({ props: { name: "public.job_log", retention: "1000" } }))).toEqual([]);
    const config = { minimumIdRetention: 1_000_000 };
    expect(violations(prodRetentionMinimum, args({ props: { name: "public.job_log", retention: 50_000 }, config }))).toEqual([
      `table public.job_log in stack prod: retention 50000 ids is fewer than the minimum 1000000 ids for production stacks; set retention to at least 1000000 in stacks/Pulumi.prod.yaml (or change the policy's minimumIdRetention)`,
    ]);
    expect(violations(prodRetentionMinimum, args({ props: { name: "public.job_log", retention: "2000000" }, config }))).toEqual([]);
    expect(violations(prodRetentionMinimum, args({ props: { retention: "30 days" }, config }))).toHaveLength(1);
  });

  it("holds a sub-partitioned table's subpartition.retention to the same minimum", () => {
    const sub = (retention: string | number | null) => args({ props: { retention: null, subpartition: { control: "created_at", interval: "1 day", retention } } });
    expect(violations(prodRetentionMinimum, sub("7 days"))).toEqual([
      `table public.events in stack prod: subpartition.retention "7 days" is shorter than the minimum "90 days" for production stacks; set subpartition.retention to at least "90 days" in stacks/Pulumi.prod.yaml (or change the policy's minimumRetention)`,
    ]);
    for (const retention of ["90 days", null]) expect(violations(prodRetentionMinimum, sub(retention))).toEqual([]);
  });

  it("reports a malformed retention or minimum instead of passing it", () => {
    expect(violations(prodRetentionMinimum, args({ props: { retention: "90 dayz" } }))).toEqual([
      `table public.events in stack prod: retention "90 dayz" is not a PostgreSQL interval (unknown unit "dayz" (did you mean "days"?)); write e.g. "90 days"`,
    ]);
    expect(violations(prodRetentionMinimum, args({ config: { minimumRetention: "forever" } }))).toEqual([
      `policy config minimumRetention "forever" is not a PostgreSQL interval: cannot read "forever"; set it to e.g. "90 days" in the policy pack config`,
    ]);
  });
});

describe("tables-protected", () => {
  it("requires protect on partitioned tables only", () => {
    expect(violations(tablesProtected, args({ protect: false }))).toEqual(["table public.events is not protected: declare it with { protect: true } (partman-stack's tableOptions() does)"]);
    expect(violations(tablesProtected, args({ protect: true }))).toEqual([]);
    expect(violations(tablesProtected, args({ protect: false, type: "postgresql:index/schema:Schema" }))).toEqual([]);
  });
});

describe("no-unacknowledged-shrink", () => {
  const drops = ["events_p20260801 [2026-08-01T00:00:00.000Z → 2026-08-02T00:00:00.000Z]"];
  it("rejects pending drops without allowDataLoss, and accepts them with it", () => {
    expect(violations(noUnacknowledgedShrink, args({ props: { pendingDrops: drops } }))).toEqual([
      `table public.events: this change makes maintenance drop 1 partition(s) (${drops[0]}) without allowDataLoss: true; set allowDataLoss: true on the table's entry if the data may go, or keep it with retentionSchema`,
    ]);
    expect(violations(noUnacknowledgedShrink, args({ props: { pendingDrops: drops, allowDataLoss: true } }))).toEqual([]);
    expect(violations(noUnacknowledgedShrink, args({ props: { pendingDrops: [] } }))).toEqual([]);
    expect(violations(noUnacknowledgedShrink, args({ props: {} }))).toEqual([]);
    expect(violations(noUnacknowledgedShrink, args({ props: { pendingDrops: drops, allowDataLoss: "yes" } }))).toHaveLength(1);
    expect(violations(noUnacknowledgedShrink, args({ type: "postgresql:index/schema:Schema", props: { pendingDrops: drops } }))).toEqual([]);
  });
});

describe("the pack as the Pulumi CLI starts it", () => {
  // What pulumi-analyzer-policy does: run @pulumi/pulumi's run-policy-pack (ts-node, type-checked)
  // with the pack directory as cwd and "." as the program; the pack prints its gRPC port. Then
  // the engine's calls: GetAnalyzerInfo, Analyze, Configure (--policy-pack-config).
  const dir = path.join(__dirname, "../../infra/policy");
  const req = createRequire(require.resolve("@pulumi/pulumi/package.json"));
  const grpc = req("@grpc/grpc-js");
  const pb = req("./proto/analyzer_pb");
  const rpc = req("./proto/analyzer_grpc_pb");
  const { Struct } = req("google-protobuf/google/protobuf/struct_pb");
  const { Empty } = req("google-protobuf/google/protobuf/empty_pb");
  let child: ChildProcess | undefined;
  let client: any;
  const call = <T>(method: string, request: unknown) =>
    new Promise<T>((resolve, reject) => client[method](request, (e: Error | null, v: T) => (e ? reject(e) : resolve(v))));
  const analyze = async (stack: string, props: Record<string, unknown>, protect: boolean): Promise<string[]> => {
    const r = new pb.AnalyzeRequest();
    r.setUrn(`urn:pulumi:${stack}::partman-stack::${PARTITIONED_TABLE}::public.events`);
    r.setType(PARTITIONED_TABLE);
    r.setName("public.events");
    r.setProperties(Struct.fromJavaScript(props));
    const o = new pb.AnalyzerResourceOptions();
    o.setProtect(protect);
    r.setOptions(o);
    const resp = await call<any>("analyze", r);
    return resp.getDiagnosticsList().map((d: any) => `${d.getPolicyname()}: ${d.getMessage().split("\n").pop()}`);
  };

  beforeAll(async () => {
    const proc = spawn(process.execPath, [require.resolve("@pulumi/pulumi/cmd/run-policy-pack"), "127.0.0.1:1", "."], { cwd: dir });
    child = proc;
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      let err = "";
      proc.stdout!.on("data", (d) => {
        out += d;
        if (/^\d+\n/.test(out)) resolve(parseInt(out, 10));
      });
      proc.stderr!.on("data", (d) => (err += d));
      proc.on("exit", (code) => reject(new Error(`policy pack exited ${code} before listening: ${err}${out}`)));
    });
    client = new rpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }, 60_000);
  afterAll(() => {
    client?.close();
    child?.kill();
  });

  it("is a nodejs pack whose dependencies come from the repository", () => {
    expect(parse(readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8")).runtime).toBe("nodejs");
    // package.json is there for its version (the PolicyPack constructor reads <cwd>/package.json);
    // an npm install of its own would give the pack a second @pulumi/pulumi.
    expect(JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).dependencies).toBeUndefined();
  });

  it("serves the three mandatory policies", async () => {
    const info = (await call<any>("getAnalyzerInfo", new Empty())).toObject();
    expect(info.name).toBe("partman-stack");
    expect(info.policiesList.map((p: any) => [p.name, p.enforcementlevel])).toEqual([
      ["prod-retention-minimum", pb.EnforcementLevel.MANDATORY],
      ["tables-protected", pb.EnforcementLevel.MANDATORY],
      ["no-unacknowledged-shrink", pb.EnforcementLevel.MANDATORY],
    ]);
  });

  it("judges a resource sent as the engine sends it, and takes --policy-pack-config", async () => {
    expect(await analyze("prod", { name: "public.events", retention: "30 days" }, false)).toEqual([
      `prod-retention-minimum: table public.events in stack prod: retention "30 days" is shorter than the minimum "90 days" for production stacks; set retention to at least "90 days" in stacks/Pulumi.prod.yaml (or change the policy's minimumRetention)`,
      "tables-protected: table public.events is not protected: declare it with { protect: true } (partman-stack's tableOptions() does)",
    ]);
    expect(await analyze("prod", { name: "public.events", retention: "13 months", pendingDrops: [], allowDataLoss: false }, true)).toEqual([]);

    const configure = new pb.ConfigureAnalyzerRequest();
    const config = new pb.PolicyConfig();
    config.setEnforcementlevel(pb.EnforcementLevel.MANDATORY);
    config.setProperties(Struct.fromJavaScript({ minimumRetention: "13 months", prodStacks: ["prod", "prod-eu"] }));
    configure.getPolicyconfigMap().set("prod-retention-minimum", config);
    await call("configure", configure);
    expect(await analyze("prod-eu", { name: "public.events", retention: "90 days" }, true)).toEqual([
      `prod-retention-minimum: table public.events in stack prod-eu: retention "90 days" is shorter than the minimum "13 months" for production stacks; set retention to at least "13 months" in stacks/Pulumi.prod-eu.yaml (or change the policy's minimumRetention)`,
    ]);
  });
});
