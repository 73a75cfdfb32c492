// Insert throughput: several connections inserting single rows as fast as they can, into each
// table in turn (twice, in opposite order, so drift in the machine's speed cancels out).

import { Client } from "pg";
import { RUNS, runIdSql } from "../lib/events";
import type { Measurement } from "../lib/result";

async function rate(url: string, table: string, connections: number, seconds: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: connections }, async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    return c;
  }));
  const until = Date.now() + seconds * 1000;
  const counts = await Promise.all(
    clients.map(async (c) => {
      let n = 0;
      while (Date.now() < until) {
        await c.query(`INSERT INTO ${table} (run_id, kind, payload) VALUES (${runIdSql("$1::int")}, 'insert', '{"bench": true}')`, [Math.floor(Math.random() * RUNS)]);
        n++;
      }
      await c.end();
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / seconds;
}

export async function inserts(url: string, tables: { partitioned: string; plain: string }, connections: number, seconds: number): Promise<Measurement[]> {
  const half = seconds / 2;
  const plain1 = await rate(url, tables.plain, connections, half);
  const part1 = await rate(url, tables.partitioned, connections, half);
  const part2 = await rate(url, tables.partitioned, connections, half);
  const plain2 = await rate(url, tables.plain, connections, half);
  return [
    { case: "inserts", metric: `single-row inserts, ${connections} connections`, unit: "rows/s", better: "higher", partitioned: (part1 + part2) / 2, unpartitioned: (plain1 + plain2) / 2 },
  ];
}
