// Query pruning: the hot query (one run's events of the last 24 hours) and a one-day range scan,
// alternating between the two tables so both see the same noise.

import type { Client } from "pg";
import { RUNS, runIdSql } from "../lib/events";
import type { Measurement } from "../lib/result";
import { percentile, timed } from "../lib/stats";

export async function queries(db: Client, tables: { partitioned: string; plain: string }, iterations: number, days: number): Promise<Measurement[]> {
  const hot = (t: string) => `SELECT * FROM ${t} WHERE run_id = ${runIdSql("$1::int")} AND created_at >= now() - interval '24 hours'`;
  const range = (t: string) => `SELECT count(*) FROM ${t} WHERE created_at >= date_trunc('day', now()) - $1::int * interval '1 day' AND created_at < date_trunc('day', now()) - ($1::int - 1) * interval '1 day'`;
  const out: Measurement[] = [];
  for (const [name, sql, param] of [
    ["hot query: one run's events of the last 24 h", hot, () => Math.floor(Math.random() * RUNS)],
    ["one-day range scan (count)", range, () => 1 + Math.floor(Math.random() * (days - 1))],
  ] as const) {
    const lat: Record<string, number[]> = { partitioned: [], plain: [] };
    for (let i = 0; i < iterations + 10; i++) {
      const v = param();
      for (const [key, table] of [["partitioned", tables.partitioned], ["plain", tables.plain]] as const) {
        const { ms } = await timed(() => db.query(sql(table), [v]));
        if (i >= 10) lat[key].push(ms);
      }
    }
    for (const p of [50, 95]) {
      out.push({ case: "queries", metric: `${name}, ${p === 50 ? "median" : "p95"}`, unit: "ms", better: "lower", partitioned: percentile(lat.partitioned, p), unpartitioned: percentile(lat.plain, p) });
    }
  }
  return out;
}
