import { describe, expect, it } from "vitest";
import { duration, etaSeconds, progressBar, progressText } from "../../infra/migrate/progress";

describe("migration progress", () => {
  const p = { copied: 250_000, total: 1_000_000, rowsPerSecond: 50_000, pendingChanges: 12 };

  it("shows rows, rate, ETA and pending changes, with a bar on terminals", () => {
    expect(progressText(p)).toBe("250,000/1,000,000 rows (25%), 50,000 rows/s, ETA 15 s, 12 captured change(s) pending");
    expect(progressBar(p, 20)).toBe(`[#####               ] ${progressText(p)}`);
  });

  it("has no ETA before a rate is known, and never passes 100%", () => {
    expect(etaSeconds({ ...p, rowsPerSecond: 0 })).toBeNull();
    expect(progressText({ ...p, copied: 1_100_000 })).toContain("(100%)");
    expect(duration(3725)).toBe("1 h 2 min");
    expect(duration(125)).toBe("2 min 5 s");
  });
});
