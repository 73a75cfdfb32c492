// A client that runs one statement in a loop on its own connection and records each call's
// latency: its longest call while something else runs is how long that blocked it.

import { Client } from "pg";
import { percentile } from "./stats";

export interface ProbeResult {
  calls: number;
  maxMs: number;
  p50Ms: number;
  /** Calls that failed (e.g. chosen as a deadlock victim), by error message. */
  errors: Record<string, number>;
}

export async function startProbe(url: string, sql: string, params: () => unknown[] = () => []): Promise<{ stop(): Promise<ProbeResult> }> {
  const c = new Client({ connectionString: url });
  await c.connect();
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      const start = process.hrtime.bigint();
      try {
        await c.query(sql, params());
      } catch (err) {
        const message = (err as Error).message;
        errors[message] = (errors[message] ?? 0) + 1;
      }
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await c.end();
      return { calls: latencies.length, maxMs: Math.max(0, ...latencies), p50Ms: percentile(latencies, 50), errors };
    },
  };
}

export function describeErrors(p: ProbeResult): string {
  const e = Object.entries(p.errors);
  return e.length ? `${e.map(([m, n]) => `${n} × "${m}"`).join(", ")} of ${p.calls} calls` : `${p.calls} calls, none failed`;
}
