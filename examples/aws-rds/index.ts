// An RDS PostgreSQL 15 instance whose parameter group preloads pg_cron, and on it, partitioned
// tables with retention and a maintenance job, declared by partman-stack's PartmanDatabase. The
// component waits for the instance; the instance is created with the parameter group, so pg_cron
// is loaded from its first boot (changing shared_preload_libraries later needs a reboot).

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PartmanDatabase } from "partman-stack/pulumi";

const config = new pulumi.Config();
const dbName = "app";

const parameters = new aws.rds.ParameterGroup("postgres15-partman", {
  family: "postgres15",
  description: "pg_cron preloaded, its jobs in the app database",
  parameters: [
    // Static parameters: RDS applies them at the next reboot, which for a new instance is its first boot.
    { name: "shared_preload_libraries", value: "pg_stat_statements,pg_cron", applyMethod: "pending-reboot" },
    { name: "cron.database_name", value: dbName, applyMethod: "pending-reboot" },
  ],
});

const password = config.requireSecret("dbPassword");
const instance = new aws.rds.Instance("events-db", {
  engine: "postgres",
  engineVersion: "15",
  instanceClass: "db.t4g.medium",
  allocatedStorage: 100,
  storageType: "gp3",
  storageEncrypted: true,
  dbName,
  username: "platform_admin",
  password,
  parameterGroupName: parameters.name,
  backupRetentionPeriod: 7,
  deletionProtection: true,
  finalSnapshotIdentifier: "events-db-final",
});

const partman = new PartmanDatabase(
  "events-db",
  {
    // RDS's master user may create roles and extensions (rds_superuser), which is all it needs.
    server: { host: instance.address, port: instance.port, user: instance.username, sslmode: "require" },
    password,
    database: dbName,
    tables: [
      {
        name: "public.events",
        ddl: "sql/events.sql",
        control: "created_at",
        interval: "1 month",
        premake: 3,
        retention: config.get("retention") ?? "13 months",
      },
    ],
    maintenance: { schedule: "15 * * * *" },
  },
  { dependsOn: [instance] },
);

export const endpoint = instance.endpoint;
export const appRole = partman.appRole;
export const appPassword = partman.appPassword;
export const tables = partman.tables;
export const maintenance = partman.maintenance;
