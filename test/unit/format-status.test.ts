import { describe, expect, it } from "vitest";
import { formatStatus } from "../../infra/cli/format";
import type { StatusReport, TableStatus } from "../../infra/engine/status";

/** The headline status prints for one set, given what part_config holds. */
function headline(t: Partial<TableStatus>): string {
  const table = { name: "public.t", state: "managed", kind: "time", type: "range", maxId: null, interval: "1 day", premake: 4, retention: null, retentionHorizon: null,
    partitions: [], totalBytes: 0, defaultRows: null, coveredUntil: null, partitionsAhead: 0, lastMaintenance: null, subpartitions: [], ...t } as TableStatus;
  const report = { stack: "s", database: "d", tables: [table], job: null, warnings: [] } as unknown as StatusReport;
  return formatStatus(report).split("\n").find((l) => l.startsWith("public.t:"))!;
}

describe("status headline", () => {
  it.each([
    ["1 mon", "1 month"],
    ["3 mons", "3 months"],
    ["01:00:00", "1 hour"],
    ["00:15:00", "15 minutes"],
    ["1 day 02:30:00", "1 day 2 hours 30 minutes"],
    ["7 days", "7 days"],
    ["1 year", "1 year"],
  ])("says part_config's interval %j as a stack file would: %s", (interval, words) => {
    expect(headline({ interval })).toBe(`public.t: ${words} partitions, premake 4, retention none (keep forever)`);
  });

  it("counts an integer-range set's ids and a list set's values", () => {
    expect(headline({ kind: "id", interval: "100000" })).toBe(`public.t: 100,000 ids per partition, premake 4, retention none (keep forever)`);
    expect(headline({ kind: "id", type: "list", interval: "1" })).toBe(`public.t: one partition per value, premake 4, retention none (keep forever)`);
  });
});
