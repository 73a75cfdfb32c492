// The embedded cluster's lifecycle, on a cluster of its own (not the tests' shared one): idempotent
// start, the settings pg_cron and pg_partman need, data that survives stop/start, and removal.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { destroyCluster, isRunning, readCluster, startCluster, stopCluster } from "../../infra/local/cluster";

describe("the local cluster", () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-local-"));
  fs.chmodSync(parent, 0o755);
  const dir = path.join(parent, ".partman", "local");
  afterAll(async () => {
    await destroyCluster(dir);
    fs.rmSync(parent, { recursive: true, force: true });
  });

  const query = async (url: string, sql: string) => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };

  it("starts once, reports the same cluster when started again, and keeps data across stop and start", { timeout: 120_000 }, async () => {
    const first = await startCluster(dir, { database: "partman_stack" });
    expect(first).toMatchObject({ dir, database: "partman_stack", cronDatabase: "partman_stack" });
    expect(first.url).toBe(`postgres://postgres@127.0.0.1:${first.port}/partman_stack`);
    expect(readCluster(dir)).toEqual(first);
    expect(isRunning(dir)).toBe(true);

    const settings = await query(
      first.url,
      `SELECT current_setting('shared_preload_libraries') AS preload, current_setting('cron.database_name') AS cron_db,
              current_setting('TimeZone') AS tz, current_setting('listen_addresses') AS listen, current_setting('fsync') AS fsync,
              (SELECT extversion FROM pg_extension WHERE extname = 'pg_cron') AS cron,
              (SELECT array_agg(version ORDER BY version) FROM pg_available_extension_versions WHERE name = 'pg_partman' AND version IN ('4.7.2', '5.2.4')) AS partman`,
    );
    expect(settings[0]).toEqual({ preload: "pg_cron", cron_db: "partman_stack", tz: "UTC", listen: "127.0.0.1", fsync: "on", cron: expect.stringMatching(/^1\.4/), partman: ["4.7.2", "5.2.4"] });
    await query(first.url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");

    const again = await startCluster(dir, { database: "partman_stack" });
    expect(again).toEqual(first);

    await stopCluster(dir);
    expect(isRunning(dir)).toBe(false);
    const restarted = await startCluster(dir, { database: "partman_stack" });
    expect(await query(restarted.url, "SELECT x FROM kept")).toEqual([{ x: 42 }]);

    await expect(startCluster(dir, { database: "partman_stack", cronDatabase: "postgres" })).rejects.toThrow(
      /keeps pg_cron in database partman_stack, not postgres; remove .* to start afresh/,
    );

    await destroyCluster(dir);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
