// `npm run bench [-- --quick]`: partitioned (pg_partman) against an identical unpartitioned table,
// and for retention partman-stack's maintenance on a copy of the partitioned one, measured in the
// same run on the same data, on a temporary PostgreSQL cluster (durable settings, removed
// afterwards). Prints a table and writes bench/results/<date>.md and .json.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { destroyCluster, startCluster } from "../infra/local/cluster";
import { inserts } from "./cases/inserts";
import { maintenance } from "./cases/maintenance";
import { migration } from "./cases/migration";
import { queries } from "./cases/queries";
import { retention } from "./cases/retention";
import { createPair } from "./lib/events";
import { advantage, type Measurement } from "./lib/result";

const SIZES = {
  full: { rows: 4_000_000, months: 4, iterations: 300, connections: 4, insertSeconds: 20, maintenanceTables: [1, 10, 50], migrationRows: 2_000_000, batch: 50_000 },
  quick: { rows: 200_000, months: 4, iterations: 60, connections: 4, insertSeconds: 4, maintenanceTables: [1, 5, 10], migrationRows: 100_000, batch: 20_000 },
};

async function main() {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, rows: { type: "string" }, out: { type: "string" } } });
  const sizes = { ...SIZES[values.quick ? "quick" : "full"] };
  if (values.rows) sizes.rows = Number(values.rows);
  const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-bench-"));
  fs.chmodSync(dir, 0o755);
  const results: Measurement[] = [];
  try {
    const cluster = await startCluster(dir, { database: "postgres", cronDatabase: "postgres", log });
    const database = async (name: string) => {
      const admin = new Client({ connectionString: cluster.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = cluster.url.replace(/\/[^/]*$/, `/${name}`);
      const db = new Client({ connectionString: url });
      await db.connect();
      await db.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '5.2.4'`);
      return { db, url };
    };

    const main = await database("bench_events");
    log(`loading ${sizes.rows.toLocaleString("en")} rows over ${sizes.months} months into both tables`);
    const tables = await createPair(main.db, { rows: sizes.rows, months: sizes.months });
    log("queries");
    results.push(...(await queries(main.db, tables, sizes.iterations, 28)));
    log("inserts");
    results.push(...(await inserts(main.url, tables, sizes.connections, sizes.insertSeconds)));
    log("retention");
    results.push(...(await retention(main.db, main.url, tables, sizes.months)));
    await main.db.end();

    const m = await database("bench_maintenance");
    log("maintenance");
    results.push(...(await maintenance(m.db, sizes.maintenanceTables)));
    await m.db.end();

    const mig = await database("bench_migration");
    log(`migration of ${sizes.migrationRows.toLocaleString("en")} rows`);
    results.push(...(await migration(mig.db, mig.url, sizes.migrationRows, sizes.batch)));
    await mig.db.end();
  } finally {
    await destroyCluster(dir);
  }

  const machine = machineDescription();
  const table = render(results);
  process.stdout.write(`${machine}\n\n${table}\n`);
  const out = values.out ?? path.join(__dirname, "results");
  fs.mkdirSync(out, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const mode = values.quick ? "quick" : "full";
  fs.writeFileSync(path.join(out, `${date}${values.quick ? "-quick" : ""}.md`), `# partman-stack benchmark, ${date} (${mode})\n\n${machine}\n\nSizes: ${JSON.stringify(sizes)}\n\n${table}\n`);
  fs.writeFileSync(path.join(out, `${date}${values.quick ? "-quick" : ""}.json`), JSON.stringify({ date, mode, machine, sizes, results }, null, 2) + "\n");
  if (!values.quick && !values.out) updateReadme(`Latest full run, ${date}. ${machine}\n\n${table}`);
}

/** The README keeps the latest full run between its bench markers. */
function updateReadme(block: string): void {
  const readme = path.join(__dirname, "../README.md");
  const text = fs.readFileSync(readme, "utf8");
  const re = /(<!-- bench:start -->\n)[\s\S]*?(\n<!-- bench:end -->)/;
  if (re.test(text)) fs.writeFileSync(readme, text.replace(re, `$1${block}$2`));
}

function machineDescription(): string {
  const cpus = os.cpus();
  return `Machine: ${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}; PostgreSQL 15 (fsync on), pg_partman 5.2.4; Node ${process.version}.`;
}

function render(results: Measurement[]): string {
  const num = (v: number | null | undefined, unit: string) =>
    v == null ? "—" : unit === "bytes" ? `${(v / 1048576).toFixed(2)} MB` : unit === "ms" ? `${v < 10 ? v.toFixed(2) : Math.round(v).toLocaleString("en")} ms` : `${Math.round(v).toLocaleString("en")} ${unit}`;
  const ratio = (a: number | null) => (a === null ? "—" : `${a >= 10 ? Math.round(a).toLocaleString("en") : a.toFixed(2)}×`);
  const lines = [
    "| case | measurement | partitioned: pg_partman / migrate run | partitioned: partman-stack maintenance | unpartitioned / raw copy | ratio to unpartitioned, in favour of partitioned (pg_partman · partman-stack) | note |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    const ratios = r.unit === "rows" ? "—" : r.stack === undefined || r.unpartitioned === null ? ratio(advantage(r)) : `${ratio(advantage(r))} · ${ratio(advantage(r, "stack"))}`;
    lines.push(`| ${r.case} | ${r.metric} | ${num(r.partitioned, r.unit)} | ${num(r.stack, r.unit)} | ${num(r.unpartitioned, r.unit)} | ${ratios} | ${r.note ?? ""} |`);
  }
  return lines.join("\n");
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
