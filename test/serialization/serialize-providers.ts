// Run by plain `node` on tsc output (vitest's transform breaks closure serialization): serializes
// each dynamic provider as `new pulumi.dynamic.Resource` does, and writes the module text Pulumi
// stores in state to <outDir>/<provider>.js.

import fs from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { maintenanceJobProvider } from "../../infra/providers/maintenance-job";
import { partitionedTableProvider } from "../../infra/providers/partitioned-table";
import { serverPreflightProvider } from "../../infra/providers/server-preflight";

const PROVIDERS = { partitionedTable: partitionedTableProvider, maintenanceJob: maintenanceJobProvider, serverPreflight: serverPreflightProvider };

async function main(outDir: string) {
  for (const [name, provider] of Object.entries(PROVIDERS)) {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    fs.writeFileSync(path.join(outDir, `${name}.js`), serialized.text);
    process.stdout.write(`${name} ${serialized.exportName} ${serialized.text.length}\n`);
  }
}

main(process.argv[2]).catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
