// The whole stack as Pulumi resources: the server (a container or an existing one), a preflight
// check of it, the database objects, one PartitionedTable per declared table and the maintenance
// job. Returns the stack outputs.

import * as pulumi from "@pulumi/pulumi";
import type { StackSpec } from "../config/types";
import { MaintenanceJob } from "../providers/maintenance-job";
import { PartitionedTable } from "../providers/partitioned-table";
import { PROVIDER_VERSION } from "../providers/connection";
import { ServerPreflight } from "../providers/server-preflight";
import { databaseObjects } from "./database";
import { tableOptions } from "./options";
import { target } from "./target";

export function buildStack(spec: StackSpec, databasePassword: pulumi.Output<string> | undefined) {
  const server = target(spec, databasePassword);
  const common = { stack: spec.stack, connection: server.connection, password: server.password, providerVersion: PROVIDER_VERSION };

  const preflight = new ServerPreflight(
    "server-preflight",
    { ...common, owner: null, partmanVersion: spec.database.partmanVersion, needCron: spec.maintenance.enabled, cronDatabase: server.cronDatabase },
    { dependsOn: server.server },
  );
  const db = databaseObjects(spec, server, [preflight]);
  const owned = { ...common, owner: db.owner.name };

  const tables = spec.tables.map(
    (t) =>
      new PartitionedTable(
        t.name,
        {
          ...owned,
          name: t.name,
          ddl: t.ddl,
          ddlSql: t.ddlSql,
          control: t.control,
          interval: t.interval.text,
          premake: t.premake,
          retention: t.retention?.text ?? null,
          retentionKeepTable: t.retentionKeepTable,
          retentionSchema: t.retentionSchema,
          startPartition: t.startPartition,
          defaultPartition: t.defaultPartition,
          infiniteTimePartitions: t.infiniteTimePartitions,
          allowDataLoss: t.allowDataLoss,
        },
        tableOptions([db.partman, ...db.ownerAccess, ...db.archiveSchemas]),
      ),
  );
  db.grantApp(tables);

  const job = new MaintenanceJob(
    "maintenance-job",
    {
      ...owned,
      jobName: spec.maintenance.jobName,
      schedule: spec.maintenance.schedule,
      analyze: spec.maintenance.analyze,
      enabled: spec.maintenance.enabled,
      lockTimeout: spec.maintenance.lockTimeout.text,
      maxLockWait: spec.maintenance.maxLockWait.text,
    },
    { dependsOn: [...tables, ...db.ownerAccess, ...(db.cron ? [db.cron] : [])] },
  );

  return {
    connection: { host: server.connection.host, port: server.connection.port, database: server.connection.database, user: server.connection.user, password: server.password },
    roles: { owner: db.owner.name, app: db.app.name, appPassword: db.appPassword },
    tables: pulumi
      .all(tables.map((t) => pulumi.all([t.name, t.interval, t.premake, t.retention, t.retentionSchema])))
      .apply((rows) => Object.fromEntries(rows.map(([name, interval, premake, retention, retentionSchema]) => [name, { interval, premake, retention, retentionSchema }]))),
    maintenance: { jobId: job.jobId, schedule: job.schedule, database: job.cronDatabase },
  };
}
