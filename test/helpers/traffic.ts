// Live traffic on a partitioned table while maintenance or DDL runs: hot queries bounded by now()
// (they plan over every partition), single-row writers and one long report, each on connections of
// their own. How long any call took is how long the work stalled it.

import { expect } from "vitest";
import { startProbe, type ProbeResult } from "../../bench/lib/probe";

/** How long the report runs: the work must wait it out rather than queue behind it. */
export const REPORT_MS = 4000;
/** maintenance.lockTimeout in these stacks; a client may wait about that long for one attempt. */
export const LOCK_TIMEOUT_MS = 200;
/** The longest stall allowed: one attempt plus the DDL it runs, with room for a loaded machine;
 *  far below the report's length, which is what a client waits behind pg_partman's DROP. */
export const STALL_BUDGET_MS = 1500;

export interface Traffic {
  /** A query bounded by now(), with its parameters per call. */
  hot: [string, () => unknown[]];
  /** A single-row insert, with its parameters per call. */
  write: [string, () => unknown[]];
  /** The table the report reads in full. */
  table: string;
}

export interface TrafficResult<T> {
  value: T;
  hot: ProbeResult;
  writers: ProbeResult;
  report: ProbeResult;
}

/** The probes, and one long report started on the table just before `fn`, which runs meanwhile. */
export async function underTraffic<T>(url: string, traffic: Traffic, fn: () => Promise<T>): Promise<TrafficResult<T>> {
  const hot = await startProbe(url, traffic.hot[0], { params: traffic.hot[1], connections: 2 });
  const writers = await startProbe(url, traffic.write[0], { params: traffic.write[1], connections: 2 });
  await new Promise((r) => setTimeout(r, 300));
  const report = await startProbe(url, `SELECT count(*) FROM ${traffic.table}, pg_sleep(${REPORT_MS / 1000})`, { once: true });
  await new Promise((r) => setTimeout(r, 300));
  const value = await fn();
  const reported = await report.stop();
  await new Promise((r) => setTimeout(r, 300));
  return { value, hot: await hot.stop(), writers: await writers.stop(), report: reported };
}

/** No client failed, and none stalled longer than one lock attempt allows. */
export function expectUnharmed(t: Omit<TrafficResult<unknown>, "value">): void {
  for (const p of [t.hot, t.writers, t.report]) expect(p.errors).toEqual({});
  expect(t.hot.maxMs, "longest stall of a hot query").toBeLessThan(STALL_BUDGET_MS);
  expect(t.writers.maxMs, "longest stall of an insert").toBeLessThan(STALL_BUDGET_MS);
  expect(t.hot.calls).toBeGreaterThan(20);
}
