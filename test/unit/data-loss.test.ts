// Which partitions a part_config change newly makes maintenance drop: every way retention can
// start deleting data, the calendar arithmetic of the horizon, and integer-range horizons.

import { describe, expect, it } from "vitest";
import { parseInterval, shiftTime } from "../../infra/config/interval";
import { dataLoss, partitionsDropped } from "../../infra/engine/data-loss";
import type { PartitionInfo } from "../../infra/engine/introspect";

const now = { kind: "time" as const, now: new Date("2026-11-23T12:00:00Z") };
const daily = (from: string, to: string): PartitionInfo => ({ name: `events_p${from.replace(/-/g, "")}`, from: `${from}T00:00:00.000Z`, to: `${to}T00:00:00.000Z`, value: null, isDefault: false, bytes: 8192, rows: 100, rowsExact: true });
const parts = [daily("2026-11-01", "2026-11-02"), daily("2026-11-10", "2026-11-11"), daily("2026-11-20", "2026-11-21"), daily("2026-11-23", "2026-11-24"), { ...daily("2026-01-01", "2026-01-02"), name: "events_default", from: null, to: null, isDefault: true }];
const cfg = (retention: string | null, keep = false, schema: string | null = null) => ({ retention, retention_keep_table: keep, retention_schema: schema });

describe("data loss from a retention change", () => {
  it("names the partitions a shrink newly drops, and nothing for a growth", () => {
    const loss = dataLoss(cfg("20 days"), cfg("5 days"), parts, now);
    expect(loss!.partitions.map((p) => p.name)).toEqual(["events_p20261110"]);
    expect(loss).toMatchObject({ rows: 100, rowsExact: true, bytes: 8192, because: [`retention "20 days" → "5 days"`] });
    expect(dataLoss(cfg("5 days"), cfg("20 days"), parts, now)).toBeNull();
  });

  it("counts setting a retention, turning retentionKeepTable off and removing retentionSchema as drops", () => {
    expect(dataLoss(cfg(null), cfg("5 days"), parts, now)!.partitions).toHaveLength(2);
    expect(dataLoss(cfg("5 days", true), cfg("5 days", false), parts, now)!.because).toEqual(["retention_keep_table true → false"]);
    expect(dataLoss(cfg("5 days", false, "archive"), cfg("5 days"), parts, now)!.because).toEqual([`retention_schema "archive" → (none)`]);
    expect(dataLoss(cfg(null), cfg("5 days", false, "archive"), parts, now)).toBeNull();
  });

  it("never counts the default partition or the last remaining partition", () => {
    expect(partitionsDropped(cfg("1 day"), parts, now).map((p) => p.name)).toEqual(["events_p20261101", "events_p20261110", "events_p20261120"]);
    expect(partitionsDropped(cfg("1 day"), [parts[0]], now)).toEqual([]);
  });

  it("on an integer-range set, names the partitions whose ids all lie below max(id) − retention", () => {
    const ids = (from: number): PartitionInfo => ({ name: `job_log_p${from}`, from: String(from), to: String(from + 1000), value: null, isDefault: false, bytes: 8192, rows: 1000, rowsExact: true });
    const set = [ids(0), ids(1000), ids(2000), ids(3000), ids(4000), ids(5000)];
    // Horizon 5500 − 2000 = 3500: job_log_p3000 still holds ids 3500 … 3999.
    const at = { kind: "id" as const, maxId: 5500 };
    const loss = dataLoss(cfg(null), cfg("2000"), set, at);
    expect(loss!.partitions.map((p) => p.name)).toEqual(["job_log_p0", "job_log_p1000", "job_log_p2000"]);
    expect(loss).toMatchObject({ rows: 3000, because: [`retention (none) → "2000"`] });
    // A partition ending exactly at the horizon holds only ids below it.
    expect(partitionsDropped(cfg("2000"), set, { kind: "id", maxId: 6000 }).map((p) => p.name)).toEqual(["job_log_p0", "job_log_p1000", "job_log_p2000", "job_log_p3000"]);
    expect(dataLoss(cfg("2000"), cfg("3000"), set, at)).toBeNull();
    expect(partitionsDropped(cfg("2000"), set, { kind: "id", maxId: null })).toEqual([]);
  });

  it("computes horizons with PostgreSQL's calendar arithmetic", () => {
    expect(shiftTime(new Date("2026-03-31T10:00:00Z"), parseInterval("1 month"), -1).toISOString()).toBe("2026-02-28T10:00:00.000Z");
    expect(shiftTime(new Date("2026-11-23T12:00:00Z"), parseInterval("13 months"), -1).toISOString()).toBe("2025-10-23T12:00:00.000Z");
    expect(shiftTime(new Date("2026-11-23T12:00:00Z"), parseInterval("1 week 2 hours"), 1).toISOString()).toBe("2026-11-30T14:00:00.000Z");
  });
});
