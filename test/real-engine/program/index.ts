// Each entry of `partman-stack:tables` as a PartitionedTable, with the resource options the
// component gives tables (protect, retainOnDelete), on the database of `partman-stack:connection`.
// Unset properties take the declaration's defaults; the DDL is read here, as the component reads a
// stack file's `ddl` path.

import fs from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { tableOptions } from "../../../infra/component/options";
import { PartitionedTable } from "../../../infra/pulumi";
import { PROVIDER_VERSION, type ConnectionInputs } from "../../../infra/providers/connection";
import type { TableEntry } from "../../../infra/providers/partitioned-table";
import { ENTRY_DEFAULTS } from "../../helpers/table-entry";

const config = new pulumi.Config("partman-stack");
const connection = config.requireObject<ConnectionInputs>("connection");
const password = config.requireSecret("databasePassword");
const root = path.resolve(__dirname, "../../..");
/** A test stands in a new release of the package by setting this. */
const providerVersion = config.get("providerVersion") ?? PROVIDER_VERSION;

export const tables = config.requireObject<(Partial<TableEntry> & { name: string; ddl: string })[]>("tables").map((t) => {
  const table = new PartitionedTable(
    t.name,
    {
      stack: pulumi.getStack(),
      connection,
      password,
      owner: null,
      providerVersion,
      ...ENTRY_DEFAULTS,
      ...t,
      ddlSql: fs.readFileSync(path.join(root, t.ddl), "utf8"),
    },
    tableOptions([]),
  );
  return { name: table.name, retention: table.retention, premake: table.premake };
});
