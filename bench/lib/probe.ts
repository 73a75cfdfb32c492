// Clients that run one statement in a loop on their own connections and record each call's
// latency: the longest call while something else runs is how long that blocked them.

import { Client } from "pg";
import { percentile } from "./stats";

export interface ProbeResult {
  calls: number;
  maxMs: number;
  p50Ms: number;
  /** Calls that failed (e.g. chosen as a deadlock victim), by error message. */
  errors: Record<string, number>;
}

export interface ProbeOptions {
  params?: () => unknown[];
  /** Connections running the statement side by side, counted as one probe. */
  connections?: number;
  /** Run the statement once (a long report) instead of until stopped: stop() waits for it. */
  once?: boolean;
}

export async function startProbe(url: string, sql: string, { params = () => [], connections = 1, once = false }: ProbeOptions = {}): Promise<{ stop(): Promise<ProbeResult> }> {
  const clients = await Promise.all(Array.from({ length: connections }, async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    return c;
  }));
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let running = true;
  const loops = clients.map(async (c) => {
    do {
      const start = process.hrtime.bigint();
      try {
        await c.query(sql, params());
      } catch (err) {
        const message = errorMessage(err);
        errors[message] = (errors[message] ?? 0) + 1;
      }
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    } while (running && !once);
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.end()));
      // Not Math.max(...latencies): a long run's hundreds of thousands of calls overflow the stack.
      return { calls: latencies.length, maxMs: latencies.reduce((a, b) => Math.max(a, b), 0), p50Ms: percentile(latencies, 50), errors };
    },
  };
}

/** An error's first line: pg_partman re-raises with the context and detail in the message. */
export function errorMessage(err: unknown): string {
  return (err as Error).message.split("\n")[0];
}

export function describeErrors(p: ProbeResult): string {
  const e = Object.entries(p.errors);
  return e.length ? `${e.map(([m, n]) => `${n} × "${m}"`).join(", ")} of ${p.calls} calls` : `${p.calls} calls, none failed`;
}
