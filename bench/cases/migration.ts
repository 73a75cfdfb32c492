// Online migration: the copy rate of `migrate run` against a raw INSERT … SELECT of the same table
// into an identical partition set (the physical limit here), and the longest stall a concurrent
// writer sees, the swap included.

import path from "node:path";
import type { Client } from "pg";
import { validateStack } from "../../infra/config/validate";
import { parseDatabaseUrl } from "../../infra/db/connection";
import { openSession } from "../../infra/db/session";
import { MIGRATE_DEFAULTS, migrateFinish, migrateRun } from "../../infra/migrate/run";
import { eventsDdl, RUNS, runIdSql } from "../lib/events";
import { describeErrors, startProbe } from "../lib/probe";
import type { Measurement } from "../lib/result";
import { timed } from "../lib/stats";

const ROOT = path.join(__dirname, "../..");

export async function migration(db: Client, url: string, rows: number, batchSize: number): Promise<Measurement[]> {
  const start = `(date_trunc('month', now()) - interval '2 months')`;
  await db.query(eventsDdl("public.events", false));
  await db.query(
    `INSERT INTO public.events (run_id, kind, payload, created_at)
     SELECT ${runIdSql(`g % ${RUNS}`)}, 'kind_' || (g % 7), jsonb_build_object('n', g), ${start} + (now() - ${start}) * (g::float8 / $1)
       FROM generate_series(1, $1) g`,
    [rows],
  );
  await db.query(`VACUUM ANALYZE public.events`);

  // The physical limit: one INSERT … SELECT into the same partition set, indexes included.
  await db.query(eventsDdl("public.raw_copy", true));
  await db.query(`SELECT partman.create_parent(p_parent_table => 'public.raw_copy', p_control => 'created_at', p_interval => '1 month', p_premake => 2, p_start_partition => (${start})::text)`);
  const raw = await timed(() => db.query(`INSERT INTO public.raw_copy SELECT * FROM public.events`));
  await db.query(`DROP TABLE public.raw_copy; DELETE FROM partman.part_config WHERE parent_table = 'public.raw_copy'`);

  const conn = parseDatabaseUrl(url);
  const spec = validateStack("bench", ROOT, {
    tables: [{ name: "public.events", ddl: "sql/tables/events.sql", control: "created_at", interval: "1 month", premake: 2 }],
    database: { mode: "external", host: String(conn.host), port: Number(conn.port), database: String(conn.database), user: String(conn.user), sslmode: "disable" },
  });
  const session = await openSession(conn, { owner: spec.roles.owner, purpose: "bench" });
  const writer = await startProbe(url, `INSERT INTO public.events (run_id, kind) VALUES (${runIdSql("$1::int")}, 'probe')`, { params: () => [Math.floor(Math.random() * RUNS)] });
  const began = Date.now();
  let copied = began;
  const r = await migrateRun(session, spec, "events", {
    ...MIGRATE_DEFAULTS,
    batchSize,
    dryRun: false,
    print: () => {},
    log: (line) => {
      if (line.startsWith("catching up")) copied = Date.now();
    },
  });
  const w = await writer.stop();
  await migrateFinish(session, spec, "events", { ...MIGRATE_DEFAULTS, dryRun: false, log: () => {}, print: () => {} });
  await session.close();

  const copySeconds = (copied - began) / 1000;
  return [
    { case: "migration", metric: "copy rate: migrate run (batches, change capture on) vs raw INSERT … SELECT", unit: "rows/s", better: "higher", partitioned: r.rowsCopied / copySeconds, unpartitioned: rows / (raw.ms / 1000), note: `${r.rowsCopied} rows in ${copySeconds.toFixed(1)} s; ratio = share of the physical limit` },
    { case: "migration", metric: "longest stall of a concurrent single-row insert during the whole migration", unit: "ms", better: "lower", partitioned: w.maxMs, unpartitioned: null, note: `swap held the lock ${r.swap?.heldMs} ms; writers waited at most ${r.swap?.stallMs} ms (${r.swap?.attempts} attempt(s)); probe: ${describeErrors(w)}` },
  ];
}
