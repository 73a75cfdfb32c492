// partman-stack archive against real PostgreSQL with each pg_partman major: expired partitions
// (moved to the retention schema, or attached past the horizon) are dumped, checksummed, verified
// and dropped; a restore from the dumps equals them; a failed dump, a bad dump and a dry run drop
// nothing; files 0600 in a 0700 folder, never written through a symlink; the CLI's exit codes.

import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { archivePartitions, type ArchiveResult } from "../../infra/archive/archive";
import type { Session } from "../../infra/db/session";
import { applyStack } from "../../infra/engine/reconcile";
import { projectDir, runCli } from "../helpers/cli";
import { createTestDatabase, onServer, PARTMAN_VERSIONS, PG_CLIENT_BIN as PG_BIN, type TestDatabase } from "../helpers/database";
import { dailySuffix, events, sessionFor, specFor } from "../helpers/spec";

const DAY = 86_400_000;
const isoDate = (d: Date) => d.toISOString().slice(0, 10);
const today = () => new Date(Math.floor(Date.now() / DAY) * DAY);

interface Contents {
  rows: number;
  sum: string;
}

describe.each(PARTMAN_VERSIONS)(onServer("archive with pg_partman %s"), (version) => {
  let db: TestDatabase;
  let session: Session;
  let tmp: string;
  let dir: string;
  const scratch: TestDatabase[] = [];

  beforeEach(async () => {
    db = await createTestDatabase({ partman: null });
    session = await sessionFor(db);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-archive-"));
    dir = path.join(tmp, "dumps");
  });

  afterEach(async () => {
    await (await session.on("postgres")).query("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1", [db.name]);
    await session.close();
    await db.drop();
    for (const s of scratch.splice(0)) await s.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const history = (overrides: Record<string, unknown> = {}) =>
    events({ startPartition: isoDate(new Date(today().getTime() - 20 * DAY)), premake: 2, ...overrides });
  /** Declared for the archive run: the retention schema holds days -20 … -16 (moved by an apply
   *  with 15 days), and days -15 … -11 are still attached but past this 10-day horizon. */
  const archiveSpec = () => specFor(db, [history({ retention: "10 days", retentionSchema: "archive" })], { partmanVersion: version });
  const day = (n: number) => `events${dailySuffix(version, new Date(today().getTime() + n * DAY))}`;
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => day(from + i));
  const moved = range(-20, -16).map((n) => `archive.${n}`);
  const pastHorizon = range(-15, -11).map((n) => `public.${n}`);

  /** A table with rows every day from 20 days back, whose values COPY must escape (newlines, tabs,
   *  backslashes, a lone `\.`), a different number of rows per day, and pg_partman's retention
   *  having moved days -20 … -16 to schema archive. */
  async function expiredHistory(): Promise<void> {
    await applyStack(session, specFor(db, [history()], { partmanVersion: version }));
    await session.target.query(
      `INSERT INTO public.events (run_id, agent_id, kind, payload, created_at)
       SELECT gen_random_uuid(), CASE WHEN g % 3 = 0 THEN gen_random_uuid() END,
              (ARRAY['plain', E'line one\\nline two', E'tab\\there', E'back\\\\slash', '\\.', 'ünïcødé ✓'])[1 + g % 6],
              jsonb_build_object('g', g, 'note', E'multi\\nline'), d + g * interval '1 minute'
         FROM generate_series(date_trunc('day', now()) - interval '20 days', date_trunc('day', now()) + interval '1 day', interval '1 day') d,
              generate_series(1, 20 + (extract(epoch FROM d) / 86400)::int % 7) g`,
    );
    await applyStack(session, specFor(db, [history({ retention: "15 days", retentionSchema: "archive" })], { partmanVersion: version }));
  }

  const contents = async (client: Client, rel: string): Promise<Contents> =>
    (await client.query<Contents>(`SELECT count(*)::int AS rows, coalesce(sum(hashtextextended(t::text, 0)), 0)::text AS sum FROM ${rel} t`)).rows[0];

  /** Every table the archive may touch, with its contents, and which are attached to events. */
  async function snapshot(): Promise<{ attached: string[]; tables: Record<string, Contents> }> {
    const names = (
      await session.target.query<{ rel: string; attached: boolean }>(
        `SELECT n.nspname || '.' || c.relname AS rel, c.relispartition AS attached
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('public', 'archive') AND c.relkind = 'r' AND c.relname LIKE 'events%' ORDER BY 1`,
      )
    ).rows;
    const tables: Record<string, Contents> = {};
    for (const { rel } of names) tables[rel] = await contents(session.target, rel);
    return { attached: names.filter((n) => n.attached).map((n) => n.rel), tables };
  }

  const archive = (opts: { dryRun?: boolean; pgBin?: string } = {}) => archivePartitions(session, archiveSpec(), "events", { to: dir, ...opts });
  const names = (r: ArchiveResult) => r.partitions.map((p) => `${p.schema}.${p.name}`);
  const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

  /** pg_dump replaced by a script; pg_restore stays the real one. */
  function fakeBin(pgDumpScript: string): string {
    const bin = path.join(tmp, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "pg_dump"), `#!/bin/sh\n${pgDumpScript}\n`, { mode: 0o755 });
    fs.symlinkSync(path.join(PG_BIN, "pg_restore"), path.join(bin, "pg_restore"));
    return bin;
  }

  it(`pg_partman ${version}: archives the partitions retention detached and kept in the table's own schema (retentionKeepTable, no retentionSchema), never a table that only looks like one`, async () => {
    const kept = (overrides: Record<string, unknown> = {}) => specFor(db, [history({ retentionKeepTable: true, ...overrides })], { partmanVersion: version });
    await applyStack(session, kept());
    await session.target.query(
      `INSERT INTO public.events (run_id, kind, created_at)
       SELECT gen_random_uuid(), 'day', d + interval '1 hour' FROM generate_series(date_trunc('day', now()) - interval '20 days', date_trunc('day', now()), interval '1 day') d`,
    );
    const shrunk = kept({ retention: "15 days", allowDataLoss: true });
    expect((await applyStack(session, shrunk)).result).toMatchObject({ blocked: [], failed: [] });
    // And a week pg_partman 4.x detached from a weekly set of the same name (its names: 2026w48).
    await session.target.query(`CREATE TABLE public.events_p2026w48 (id int); INSERT INTO public.events_p2026w48 VALUES (1)`);
    const detached = [...range(-20, -16).map((n) => `public.${n}`), "public.events_p2026w48"];
    const lookalikes = ["public.events_pending", "public.events_p2026_draft"];
    for (const rel of lookalikes) await session.target.query(`CREATE TABLE ${rel} (id int)`);
    const before = await snapshot();
    for (const rel of detached) expect(before.attached).not.toContain(rel);

    const r = await archivePartitions(session, shrunk, "events", { to: dir });
    expect(r.failed).toBe(0);
    expect(r.partitions.map((p) => [`${p.schema}.${p.name}`, p.origin, p.rows, p.status])).toEqual(detached.map((rel) => [rel, "kept-table", 1, "archived"]));
    for (const p of r.partitions) expect(fs.statSync(p.file).size).toBeGreaterThan(0);
    const left = (await session.target.query<{ rel: string | null }>(`SELECT to_regclass(x)::text AS rel FROM unnest($1::text[]) x`, [[...detached, ...lookalikes]])).rows.map((x) => x.rel);
    expect(left).toEqual([...detached.map(() => null), ...lookalikes]);
  });

  it(`pg_partman ${version}: dumps, checksums, verifies and drops exactly the expired partitions, and a restore from the dumps equals them`, async () => {
    await expiredHistory();
    const before = await snapshot();
    expect(Object.keys(before.tables)).toEqual(expect.arrayContaining([...moved, ...pastHorizon]));
    for (const rel of pastHorizon) expect(before.attached).toContain(rel);

    const r = await archive();
    expect(r.failed).toBe(0);
    expect(names(r)).toEqual([...moved, ...pastHorizon]);
    expect(r.partitions.map((p) => p.origin)).toEqual([...moved.map(() => "retention-schema"), ...pastHorizon.map(() => "past-horizon")]);
    expect(r.partitions.every((p) => p.status === "archived")).toBe(true);
    const horizon = Date.parse(r.horizon!);
    for (const p of r.partitions.filter((x) => x.origin === "past-horizon")) {
      expect(Date.parse(p.to!)).toBeLessThan(horizon);
      expect(p.sql).toEqual([
        `SELECT partman_stack.lock_in_order_or_raise(ARRAY['"public"."events"', '"public"."${p.name}"']::regclass[], '200ms', '1 min', 'ACCESS EXCLUSIVE');`,
        `ALTER TABLE "public"."events" DETACH PARTITION "public"."${p.name}";`,
        `DROP TABLE "public"."${p.name}";`,
      ]);
    }

    for (const p of r.partitions) {
      const rel = `${p.schema}.${p.name}`;
      expect(p.rows).toBe(before.tables[rel].rows);
      expect(p.rows).toBeGreaterThanOrEqual(20);
      expect(p.file).toBe(path.join(dir, `${rel}.dump`));
      expect(p.dumpBytes).toBe(fs.statSync(p.file).size);
      expect(p.sha256).toBe(sha256(p.file));
      expect(fs.readFileSync(`${p.file}.sha256`, "utf8")).toBe(`${p.sha256}  ${rel}.dump\n`);
      const gone = await session.target.query(`SELECT to_regclass($1) AS oid`, [rel]);
      expect(gone.rows[0].oid).toBeNull();
    }
    expect(execFileSync("sha256sum", ["-c", ...r.partitions.map((p) => `${p.schema}.${p.name}.dump.sha256`)], { cwd: dir, encoding: "utf8" })).not.toMatch(/FAILED/);

    // Everything inside the horizon, and the default partition, is untouched, rows and all.
    const after = await snapshot();
    const kept = Object.keys(before.tables).filter((rel) => !names(r).includes(rel));
    expect(Object.keys(after.tables)).toEqual(kept);
    expect(after.attached).toEqual(before.attached.filter((rel) => kept.includes(rel)));
    for (const rel of kept) expect(after.tables[rel]).toEqual(before.tables[rel]);
    expect(kept).toContain(`public.${day(-10)}`);
    expect(kept).toContain("public.events_default");

    // Restore each dump into a scratch database as the README says (without the ATTACH entries,
    // whose parent is not there), and compare with the partition as it was.
    const target = await createTestDatabase({ partman: null });
    scratch.push(target);
    const c = new Client({ connectionString: target.url });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA archive`);
      for (const p of r.partitions) {
        const list = execFileSync("pg_restore", ["--list", p.file], { encoding: "utf8" }).split("\n").filter((l) => !/ ATTACH /.test(l));
        const listFile = `${p.file}.list`;
        fs.writeFileSync(listFile, list.join("\n"));
        execFileSync("pg_restore", ["--no-owner", "--exit-on-error", `--use-list=${listFile}`, `--dbname=${target.url}`, p.file]);
        expect(await contents(c, `${p.schema}.${p.name}`)).toEqual(before.tables[`${p.schema}.${p.name}`]);
      }
    } finally {
      await c.end();
    }

    const again = await archive();
    expect(again.partitions).toEqual([]);
    expect(again.failed).toBe(0);
  });

  it(`pg_partman ${version}: never overwrites an existing dump: that partition fails and is kept, the others are archived`, async () => {
    await expiredHistory();
    const before = await snapshot();
    fs.mkdirSync(dir);
    const clash = path.join(dir, `${moved[0]}.dump`);
    fs.writeFileSync(clash, "an earlier dump");

    const r = await archive();
    expect(r.failed).toBe(1);
    expect(r.partitions[0]).toMatchObject({ status: "failed", reason: expect.stringMatching(/exists and is never overwritten; nothing was dropped$/) });
    expect(r.partitions.slice(1).every((p) => p.status === "archived")).toBe(true);
    expect(fs.readFileSync(clash, "utf8")).toBe("an earlier dump");
    expect(fs.existsSync(`${clash}.sha256`)).toBe(false);
    expect(await contents(session.target, moved[0])).toEqual(before.tables[moved[0]]);
  });

  const mode = (file: string) => fs.statSync(file).mode & 0o7777;

  it(`pg_partman ${version}: creates the archive directory 0700 and every dump and .sha256 file 0600`, async () => {
    await expiredHistory();
    const r = await archive();
    expect(r.failed).toBe(0);
    expect(r.warnings).toEqual([]);
    expect(mode(dir)).toBe(0o700);
    expect(fs.readdirSync(dir).map((f) => [f, mode(path.join(dir, f))])).toEqual(fs.readdirSync(dir).map((f) => [f, 0o600]));
    expect(fs.readdirSync(dir)).toHaveLength(2 * r.partitions.length);
  });

  it(`pg_partman ${version}: leaves an existing archive directory open to other users as it is, with a warning naming chmod 700`, async () => {
    await applyStack(session, specFor(db, [history()], { partmanVersion: version }));
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const warning = `the archive directory ${dir} is open to other users (mode 0755): the dumps are 0600, but they see their names; \`chmod 700 ${dir}\` closes it`;
    expect((await archive()).warnings).toEqual([warning]);
    expect((await archive({ dryRun: true })).warnings).toEqual([warning]);
    fs.chmodSync(dir, 0o777);
    expect((await archive()).warnings).toEqual([expect.stringContaining("(mode 0777): the dumps are 0600, but they see their names and, as they may write to it, can remove or replace them;")]);
    expect(mode(dir)).toBe(0o777);
  });

  it(`pg_partman ${version}: refuses a symlink planted at a dump's name: that partition fails and is kept, the link's target is untouched, the others are archived`, async () => {
    await expiredHistory();
    const before = await snapshot();
    fs.mkdirSync(dir, { mode: 0o700 });
    const target = path.join(tmp, "precious");
    fs.writeFileSync(target, "not yours to overwrite");
    const link = path.join(dir, `${moved[0]}.dump`);
    fs.symlinkSync(target, link);

    const dry = await archive({ dryRun: true });
    expect(dry.partitions[0]).toMatchObject({ status: "failed", reason: `${link} is a symbolic link: refused, never followed` });
    const r = await archive();
    expect(r.failed).toBe(1);
    expect(r.partitions[0]).toMatchObject({ status: "failed", reason: `${link} is a symbolic link: refused, never followed; nothing was dropped` });
    expect(r.partitions.slice(1).every((p) => p.status === "archived")).toBe(true);
    expect(fs.readFileSync(target, "utf8")).toBe("not yours to overwrite");
    expect(fs.readlinkSync(link)).toBe(target);
    expect(fs.existsSync(`${link}.sha256`)).toBe(false);
    expect(await contents(session.target, moved[0])).toEqual(before.tables[moved[0]]);
  });

  it(`pg_partman ${version}: pg_dump writes through the descriptor that claimed the name: a symlink swapped in while it runs is not followed, and nothing is dropped`, async () => {
    await expiredHistory();
    const before = await snapshot();
    const target = path.join(tmp, "precious");
    fs.writeFileSync(target, "not yours to overwrite");
    // As another user who may write to the directory would: the claimed, still empty name
    // replaced by a symlink just before pg_dump starts.
    const pgBin = fakeBin(`for f in "${dir}"/*.dump; do [ -L "$f" ] || [ -s "$f" ] || { rm "$f"; ln -s "${target}" "$f"; }; done\nexec "${PG_BIN}/pg_dump" "$@"`);

    const r = await archive({ pgBin });
    expect(r.failed).toBe(10);
    for (const p of r.partitions) expect(p.reason).toMatch(/^(pg_restore failed|verification failed).*; nothing was dropped$/);
    expect(fs.readFileSync(target, "utf8")).toBe("not yours to overwrite");
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it(`pg_partman ${version}: drops nothing when pg_dump fails, and removes its partial file`, async () => {
    await expiredHistory();
    const before = await snapshot();
    // Writes part of a dump, then fails, as a full disk or a lost connection would.
    const pgBin = fakeBin(`printf 'PGDMP partial'\necho "pg_dump: error: simulated failure" >&2\nexit 1`);

    const r = await archive({ pgBin });
    expect(r.failed).toBe(10);
    for (const p of r.partitions) expect(p.reason).toMatch(/^pg_dump failed \(exit 1\): pg_dump: error: simulated failure; nothing was dropped$/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it(`pg_partman ${version}: drops nothing when the dump does not verify: unreadable, or holding other rows than the partition`, async () => {
    await expiredHistory();
    const before = await snapshot();
    // A dump cut short with pg_dump still exiting 0.
    const full = path.join(tmp, "full.dump");
    const truncating = fakeBin(`"${PG_BIN}/pg_dump" "$@" > "${full}" || exit 1\nhead -c $(( $(stat -c %s "${full}") / 2 )) "${full}"`);
    const cut = await archive({ pgBin: truncating });
    expect(cut.failed).toBe(10);
    for (const p of cut.partitions) expect(p.reason).toMatch(/^(pg_restore failed|verification failed).*; nothing was dropped$/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await snapshot()).toEqual(before);

    // A readable dump of a same-named table with fewer rows: only the row count can tell.
    const other = await createTestDatabase({ partman: null });
    scratch.push(other);
    const c = new Client({ connectionString: other.url });
    await c.connect();
    await c.query(`CREATE SCHEMA archive; CREATE TABLE ${moved[0]} AS SELECT 1 AS id`);
    await c.end();
    fs.rmSync(path.join(tmp, "bin"), { recursive: true });
    const elsewhere = fakeBin(`PGDATABASE=${other.name} exec "${PG_BIN}/pg_dump" "$@"`);
    const wrong = await archive({ pgBin: elsewhere });
    expect(wrong.partitions[0].reason).toMatch(/^verification failed: .* holds 1 row\(s\), archive\.\S+ holds \d+; nothing was dropped$/);
    expect(wrong.failed).toBe(10);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it(`pg_partman ${version}: keeps writers out of an attached partition from its count until its DROP, so no committed row escapes the dump`, async () => {
    await expiredHistory();
    const before = await snapshot();
    const target = pastHorizon[0];
    const out = path.join(tmp, "insert.out");
    // After dumping that partition, a writer tries to add a row to it, as a late event would.
    const pgBin = fakeBin(
      `"${PG_BIN}/pg_dump" "$@" || exit 1\ncase "$*" in *'"${target.split(".")[1]}"'*)\n` +
        `  "${PG_BIN}/psql" -X -v ON_ERROR_STOP=1 -c "SET lock_timeout = '500ms'" ` +
        `-c "INSERT INTO public.events (run_id, kind, created_at) VALUES (gen_random_uuid(), 'late', timestamptz '${isoDate(new Date(today().getTime() - 15 * DAY))} 12:00Z')" > "${out}" 2>&1\n` +
        `  echo "rc=$?" >> "${out}";;\nesac`,
    );
    const r = await archive({ pgBin });
    expect(r.failed).toBe(0);
    expect(r.partitions.find((p) => `${p.schema}.${p.name}` === target)).toMatchObject({ status: "archived", rows: before.tables[target].rows });
    const insert = fs.readFileSync(out, "utf8");
    expect(insert).toContain("canceling statement due to lock timeout");
    expect(insert).toContain("rc=1");
  });

  it(`pg_partman ${version}: keeps a partition whose rows changed between its dump and its drop, and removes that dump`, async () => {
    await expiredHistory();
    const target = pastHorizon[0];
    const writer = new Client({ connectionString: db.url });
    await writer.connect();
    let late: Promise<unknown> | null = null;
    try {
      // Queued behind the dump's SHARE lock, the write lands as soon as the dump's transaction ends.
      const log = (line: string) => {
        if (!late && line.startsWith(`dumping ${target} `)) {
          late = writer.query(`INSERT INTO public.events (run_id, kind, created_at) VALUES (gen_random_uuid(), 'late', timestamptz '${isoDate(new Date(today().getTime() - 15 * DAY))} 12:00Z')`);
        }
      };
      const r = await archivePartitions(session, archiveSpec(), "events", { to: dir, log });
      await late;
      const p = r.partitions.find((x) => `${x.schema}.${x.name}` === target)!;
      expect(p).toMatchObject({ status: "failed", reason: expect.stringMatching(/^its rows changed after the dump \(\d+ dumped, \d+ now\): a late write would be lost with it; nothing was dropped$/) });
      expect(fs.existsSync(p.file) || fs.existsSync(`${p.file}.sha256`)).toBe(false);
      expect((await snapshot()).attached).toContain(target);
      expect(r.partitions.filter((x) => x.status === "archived")).toHaveLength(r.partitions.length - 1);
    } finally {
      await writer.end();
    }
  });

  it(`pg_partman ${version}: holds the table's maintenance fence: a maintenance run meanwhile defers its expiry instead of dropping what archive has not dumped`, async () => {
    await expiredHistory();
    // The live retention now drops what is past 10 days: what this archive run is about to dump.
    await session.target.query(`UPDATE partman_stack.retention SET retention = '10 days', retention_schema = NULL WHERE parent_table = 'public.events'`);
    const pgBin = fakeBin(`sleep 1\n"${PG_BIN}/pg_dump" "$@"`);
    const maintenance = new Client({ connectionString: db.url });
    await maintenance.connect();
    try {
      const archiving = archive({ pgBin });
      await new Promise((r) => setTimeout(r, 500));
      await maintenance.query(`CALL partman_stack.run_maintenance(p_parent_table => 'public.events', p_max_lock_wait => '500 ms')`);
      const run = (await maintenance.query(`SELECT expired, deferred, deferred_reason FROM partman_stack.maintenance_runs ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(run.expired).toEqual([]);
      expect(run.deferred.length).toBeGreaterThan(0);
      expect(run.deferred_reason).toContain("held the set's fence");
      const r = await archiving;
      expect(r.failed).toBe(0);
      expect(names(r)).toEqual([...moved, ...pastHorizon]);
    } finally {
      await maintenance.end();
    }
  });

  it(`pg_partman ${version}: a partition dropped by another session after its dump verified keeps its dump; once the fence is lost, the others are left as they are`, async () => {
    await expiredHistory();
    const other = new Client({ connectionString: db.url });
    await other.connect();
    // The real pg_dump, then a mark that it is done (a DROP queued while it runs would wait for
    // the dump's lock, and pg_dump behind the DROP: the cycle archive's dump avoids).
    const marker = path.join(tmp, "dumped");
    const pgBin = fakeBin(`"${path.join(PG_BIN, "pg_dump")}" "$@"; s=$?; touch "${marker}"; exit $s`);
    let dropped: Promise<unknown> | null = null;
    try {
      const log = (line: string) => {
        if (dropped || !line.startsWith("dumping ")) return;
        const first = line.split(" ")[1];
        // The fence's connection lost (as when the server terminates it), then the partition being
        // dumped dropped once its dump is written: the DROP waits for the dump's lock and takes it
        // before archive's own drop does.
        dropped = (async () => {
          await other.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'partman-stack archive public.events'`);
          while (!fs.existsSync(marker)) await new Promise((r) => setTimeout(r, 5));
          await other.query(`DROP TABLE ${first}`);
        })();
      };
      const r = await archivePartitions(session, archiveSpec(), "events", { to: dir, log, pgBin });
      await dropped;
      const [first, ...rest] = r.partitions;
      expect(first).toMatchObject({ status: "failed", reason: expect.stringMatching(/was dropped by another session after its dump was verified, so the dump is kept$/) });
      expect(sha256(first.file)).toBe(first.sha256);
      expect(rest.length).toBeGreaterThan(0);
      for (const p of rest) {
        expect(p).toMatchObject({ status: "failed", reason: expect.stringMatching(/^the maintenance fence was lost \(.*\); nothing was dropped, run archive again$/) });
        expect(fs.existsSync(p.file)).toBe(false);
        expect((await other.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${p.schema}.${p.name}`])).rows).toEqual([{ ok: true }]);
      }
    } finally {
      await other.end();
    }
  });

  it(`pg_partman ${version}: refuses an archive directory it cannot create before touching anything`, async () => {
    await expiredHistory();
    const before = await snapshot();
    // A path under a regular file, which no user (root neither) can make a directory of.
    fs.writeFileSync(path.join(tmp, "file"), "");
    const to = path.join(tmp, "file", "dumps");
    await expect(archivePartitions(session, archiveSpec(), "events", { to })).rejects.toThrow(
      `cannot create the archive directory ${to}: ENOTDIR`,
    );
    expect(await snapshot()).toEqual(before);
  });

  it(`pg_partman ${version}: --dry-run lists what it would dump and drop, and changes nothing`, async () => {
    await expiredHistory();
    const before = await snapshot();
    const r = await archive({ dryRun: true });
    expect(names(r)).toEqual([...moved, ...pastHorizon]);
    expect(r.partitions.every((p) => p.status === "planned" && p.sha256 === null)).toBe(true);
    expect(r.partitions.map((p) => p.rows)).toEqual(names(r).map((rel) => before.tables[rel].rows));
    expect(r.partitions[5].sql[1]).toMatch(/^ALTER TABLE "public"\."events" DETACH PARTITION/);
    expect(fs.existsSync(dir)).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  it(`pg_partman ${version}: CLI: exit 1 when a partition fails (the rest archived), 0 once all are archived or none expired`, async () => {
    await expiredHistory();
    const project = projectDir({
      ci: `config:
  partman-stack:database: { mode: external, host: 127.0.0.1, database: unused, user: postgres, sslmode: disable }
  partman-stack:maintenance: { jobName: partman-${db.name} }
  partman-stack:tables:
    - { name: public.events, ddl: sql/tables/events.sql, control: created_at, interval: 1 day, premake: 2, retention: 10 days, retentionSchema: archive }
`,
    });
    try {
      const args = ["archive", "events", "--stack", "ci", "--database-url", db.url, "--to", dir];
      expect((await runCli(project, ["archive", "events", "--stack", "ci", "--database-url", db.url])).code).toBe(1);

      const dry = await runCli(project, [...args, "--dry-run"]);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/^dry run: nothing is dumped or dropped/);
      expect(dry.stdout).toContain("Would archive 10 partition(s).");

      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, `${pastHorizon[0]}.dump.sha256`), "");
      const partial = await runCli(project, args);
      expect(partial.code).toBe(1);
      expect(partial.stdout).toMatch(new RegExp(`✗ ${pastHorizon[0].replace(".", "\\.")} \\[.*\\]: .*exists and is never overwritten; nothing was dropped`));
      expect(partial.stdout).toMatch(/✓ archive\.events_p\S+: \d+ rows, .* → .*\.dump \(.*, sha256 [0-9a-f]{64}\); dropped/);
      expect(partial.stdout).toContain("Archived 9 partition(s)");
      expect(fs.existsSync(path.join(dir, `${pastHorizon[0]}.dump`))).toBe(false);

      fs.rmSync(path.join(dir, `${pastHorizon[0]}.dump.sha256`));
      const rest = await runCli(project, [...args, "--json"]);
      expect(rest.code).toBe(0);
      const json = JSON.parse(rest.stdout) as ArchiveResult;
      expect(names(json)).toEqual([pastHorizon[0]]);
      expect(json.partitions[0]).toMatchObject({ status: "archived", origin: "past-horizon" });

      const none = await runCli(project, args);
      expect(none.code).toBe(0);
      expect(none.stdout).toContain("Nothing to archive.");
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});
