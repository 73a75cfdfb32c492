// The CrossGuard policies, called directly with constructed arguments (the Pulumi CLI cannot run
// here, and constructing the PolicyPack would start its gRPC server).

import { describe, expect, it, vi } from "vitest";
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
    expect(violations(prodRetentionMinimum, args({ stack: "prod-eu", props: { retention: "90 days" }, config }))).toEqual([expect.stringContaining(`shorter than the minimum "13 months"`)]);
    expect(violations(prodRetentionMinimum, args({ stack: "staging", props: { retention: "1 day" }, config }))).toEqual([]);
  });

  it("reports a malformed retention or minimum instead of passing it", () => {
    expect(violations(prodRetentionMinimum, args({ props: { retention: "90 dayz" } }))).toEqual([expect.stringMatching(/^table public\.events in stack prod: retention "90 dayz" is not a PostgreSQL interval/)]);
    expect(violations(prodRetentionMinimum, args({ config: { minimumRetention: "forever" } }))).toEqual([expect.stringMatching(/^policy config minimumRetention "forever" is not a PostgreSQL interval/)]);
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
  });
});
