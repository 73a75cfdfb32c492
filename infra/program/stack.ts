// The whole stack as Pulumi resources: the server (a container, an existing server or the local
// cluster) and, on it, a PartmanDatabase with the stack's tables and maintenance job. Returns the
// stack outputs.

import type * as pulumi from "@pulumi/pulumi";
import type { RawStackConfig, StackSpec } from "../config/types";
import { PartmanDatabase, type PartmanDatabaseArgs } from "../component/partman-database";
import { target } from "./target";

/** `spec` is `raw` validated; the component validates its part of `raw` again itself. */
export function buildStack(spec: StackSpec, raw: RawStackConfig, databasePassword: pulumi.Output<string> | undefined) {
  const server = target(spec, databasePassword);
  const partman = new PartmanDatabase(
    "partman",
    {
      server: server.connection,
      password: server.password,
      database: spec.database.database,
      cronDatabase: server.cronDatabase,
      partmanVersion: spec.database.partmanVersion ?? undefined,
      tables: (raw.tables as PartmanDatabaseArgs["tables"] | undefined) ?? [],
      maintenance: raw.maintenance as PartmanDatabaseArgs["maintenance"],
      roles: raw.roles as PartmanDatabaseArgs["roles"],
      root: spec.root,
      adoptTopLevel: true,
    },
    { dependsOn: server.server },
  );
  return {
    connection: { host: partman.connection.host, port: partman.connection.port, database: partman.connection.database, user: partman.connection.user, password: server.password },
    roles: { owner: partman.ownerRole, app: partman.appRole, appPassword: partman.appPassword },
    tables: partman.tables,
    maintenance: partman.maintenance,
  };
}
