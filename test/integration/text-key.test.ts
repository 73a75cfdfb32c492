// A set keyed by text that holds a time (order ids "ord-YYYYMMDDHHMISS…"), read through the
// application's own encoder and decoder (pg_partman 5.2+): registered, maintained by the job's
// command and verified, on every release that has time codecs. 5.5 quotes the names itself, so
// they are given and stored as schema.function there.

import { describe, expect, it } from "vitest";
import { maintenanceCommand } from "../../infra/partman/maintenance-objects";
import { applyStack, planStack } from "../../infra/engine/reconcile";
import { status } from "../../infra/engine/status";
import { verify } from "../../infra/engine/verify";
import { onServer, PARTMAN_VERSIONS, queryRows } from "../helpers/database";
import { specFor } from "../helpers/spec";
import { testDatabase } from "../helpers/test-database";

const CODEC_VERSIONS = PARTMAN_VERSIONS.filter((v) => !v.startsWith("4.") && !/^5\.[01]\./.test(v));

const SCHEMA_SQL = `
  CREATE SCHEMA app;
  CREATE FUNCTION app.key_from_time(t timestamptz) RETURNS text LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$ SELECT 'ord-' || to_char(t AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS') $$;
  CREATE FUNCTION app.time_from_key(k text) RETURNS timestamptz LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$ SELECT to_timestamp(substr(k, 5, 14), 'YYYYMMDDHH24MISS')::timestamp AT TIME ZONE 'UTC' $$;
  CREATE TABLE public.orders (id text NOT NULL, amount integer NOT NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id);`;

describe.each(CODEC_VERSIONS)(onServer("a text-keyed set with the application's own time encoder and decoder, pg_partman %s"), (version) => {
  const fx = testDatabase();
  const spec = () =>
    specFor(fx.db, [{ name: "public.orders", control: "id", timeEncoder: "app.key_from_time", timeDecoder: "app.time_from_key", interval: "1 day", premake: 2, retention: "3 days", allowDataLoss: true }], {
      partmanVersion: version,
    });

  it(`pg_partman ${version}: registers it with the codec's names, partitions rows by the day in their keys, and maintenance expires and premakes by those days`, async () => {
    await fx.session.target.query(SCHEMA_SQL);
    const applied = await applyStack(fx.session, spec());
    expect(applied.result).toMatchObject({ blocked: [], failed: [] });
    expect(await queryRows(fx.db.url, `SELECT time_encoder, time_decoder FROM partman.part_config WHERE parent_table = 'public.orders'`)).toEqual([
      { time_encoder: "app.key_from_time", time_decoder: "app.time_from_key" },
    ]);
    expect((await planStack(fx.session, spec())).steps).toEqual([]);

    // Today's rows land in today's partition, not the default.
    await fx.session.target.query(`INSERT INTO public.orders SELECT app.key_from_time(now() - g * interval '1 minute') || '-' || g, g FROM generate_series(1, 50) g WHERE now() - g * interval '1 minute' >= date_trunc('day', now())`);
    await fx.session.target.query(`INSERT INTO public.orders VALUES (app.key_from_time(date_trunc('day', now()) + interval '1 hour') || '-x', 1)`);
    expect(await queryRows(fx.db.url, `SELECT count(*)::int AS n FROM public.orders_default`)).toEqual([{ n: 0 }]);
    const today = await queryRows(fx.db.url, `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM public.orders GROUP BY 1`);
    expect(today).toHaveLength(1);

    // A partition past the horizon, made by hand as an old day's: the job's command expires it; its
    // premake partitions are there after the run.
    const old = (await queryRows(fx.db.url, `SELECT app.key_from_time(date_trunc('day', now()) - interval '10 days') AS lo, app.key_from_time(date_trunc('day', now()) - interval '9 days') AS hi`))[0];
    await fx.session.target.query(`CREATE TABLE public.orders_old PARTITION OF public.orders FOR VALUES FROM ('${old.lo}') TO ('${old.hi}')`);
    await fx.session.target.query(maintenanceCommand(spec().maintenance));
    const report = await status(fx.session, spec());
    const orders = report.tables[0];
    expect(orders.lastMaintenance).toMatchObject({ error: null, expired: ["orders_old"] });
    expect(orders.partitions.map((p) => p.name)).not.toContain("orders_old");
    expect(orders.partitionsAhead).toBeGreaterThanOrEqual(2);
    const checks = (await verify(fx.session, spec())).checks.filter((c) => c.table === "public.orders");
    expect(checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(Object.fromEntries(checks.map((c) => [c.check, c.status]))).toMatchObject({ premake: "ok", bounds: "ok", "default-partition": "ok", retention: "ok" });
  });
});
