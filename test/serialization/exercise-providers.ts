// Run by plain `node` after the compiled sources are gone: loads each serialized provider exactly
// as Pulumi's dynamic provider host does (require-from-string, then .handler()) and drives it
// against a real database. Prints what each call returned, as JSON.

import fs from "node:fs";
import path from "node:path";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString: (code: string) => { handler: () => Provider } = require("require-from-string");

interface Provider {
  check(olds: object, news: object): Promise<{ failures?: unknown[] }>;
  create(inputs: object): Promise<{ id: string; outs: Record<string, unknown> }>;
  read(id: string, props: object): Promise<{ id: string; props: Record<string, unknown> }>;
  delete(id: string, props: object): Promise<void>;
}

async function main(dir: string, input: { table: object; job: object; preflight: object }) {
  const load = (name: string) => requireFromString(fs.readFileSync(path.join(dir, `${name}.js`), "utf8")).handler();
  const preflight = load("serverPreflight");
  const table = load("partitionedTable");
  const job = load("maintenanceJob");

  const preflightCreated = await preflight.create(input.preflight);
  const tableCheck = await table.check({}, input.table);
  const tableCreated = await table.create(input.table);
  const tableRead = await table.read(tableCreated.id, tableCreated.outs);
  const jobCreated = await job.create(input.job);
  const jobRead = await job.read(jobCreated.id, jobCreated.outs);
  await job.delete(jobCreated.id, jobCreated.outs);
  process.stdout.write(JSON.stringify({ preflightCreated, tableCheck, tableCreated, tableRead, jobCreated, jobRead }));
}

main(process.argv[2], JSON.parse(process.argv[3])).catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
