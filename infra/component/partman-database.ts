// PartmanDatabase: partitioned tables, pg_partman's configuration and the pg_cron maintenance job on
// a PostgreSQL server that another part of a Pulumi program provides (an RDS instance, a container,
// an existing server). Validates its declaration with the CLI's validator, so a bad table fails the
// preview before anything is created, checks the server (ServerPreflight), then declares the
// database objects (database.ts), one PartitionedTable per table and the MaintenanceJob.

import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { validateDeclaration } from "../config/validate";
import type { MaintenanceDeclaration, SslMode, SubpartitionDeclaration, SubpartitionSpec, TableDeclaration } from "../config/types";
import { MaintenanceJob } from "../providers/maintenance-job";
import { PartitionedTable } from "../providers/partitioned-table";
import { PROVIDER_VERSION, type ConnectionInputs } from "../providers/connection";
import { ServerPreflight } from "../providers/server-preflight";
import { children } from "./children";
import { databaseObjects } from "./database";
import { tableOptions } from "./options";

export interface PartmanDatabaseArgs {
  /** Where the server is, usually another resource's outputs (an RDS instance's `address` and
   *  `port`). `user` connects as an admin that may create roles and extensions (RDS's master user);
   *  sslmode defaults to `require`, with libpq's meaning; sslRootCert is the CA certificate (PEM) the
   *  server's is verified against, a path relative to `root`, read when connecting. */
  server: pulumi.Input<{ host: pulumi.Input<string>; port: pulumi.Input<number>; user: pulumi.Input<string>; sslmode?: pulumi.Input<SslMode>; sslRootCert?: pulumi.Input<string> }>;
  /** The admin user's password (kept secret). */
  password: pulumi.Input<string>;
  /** The database that holds the tables; it must exist. */
  database: string;
  /** The server's `cron.database_name`, where pg_cron and the job live; default: `database`. */
  cronDatabase?: string;
  /** The pg_partman version to create (e.g. "5.2.4"); default: the server's default version. */
  partmanVersion?: string;
  /** The partitioned tables, with the keys of a stack file's `partman-stack:tables`. */
  tables: TableDeclaration[];
  /** The maintenance job, with the keys of a stack file's `partman-stack:maintenance`. */
  maintenance?: MaintenanceDeclaration;
  /** The roles to create: `owner` owns the tables and runs the job, `app` gets DML only. */
  roles?: { owner?: string; app?: string };
  /** The folder that tables' `ddl` paths are relative to; default: the program's folder (where
   *  Pulumi runs it). */
  root?: string;
  /** Only for stacks made by partman-stack's own program before this component existed: adopt
   *  their top-level resources instead of replacing them (see children.ts). */
  adoptTopLevel?: boolean;
}

export interface PartmanDatabaseTable {
  interval: string;
  premake: number;
  retention: string | null;
  retentionSchema: string | null;
}

export class PartmanDatabase extends pulumi.ComponentResource {
  /** Host, port, database and admin user (the password is in `args`). */
  readonly connection: pulumi.Output<ConnectionInputs>;
  readonly ownerRole: pulumi.Output<string>;
  readonly appRole: pulumi.Output<string>;
  /** The app role's generated password (secret). */
  readonly appPassword: pulumi.Output<string>;
  /** Per table: interval, premake, retention and retention schema, as applied. */
  readonly tables: pulumi.Output<Record<string, PartmanDatabaseTable>>;
  /** The pg_cron job's id, schedule and the database it lives in. */
  readonly maintenance: { jobId: pulumi.Output<number | null>; schedule: pulumi.Output<string>; database: pulumi.Output<string | null> };

  constructor(name: string, args: PartmanDatabaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("partman-stack:index:PartmanDatabase", name, {}, opts);
    const root = args.root ?? process.cwd();
    const spec = validateDeclaration(pulumi.getStack(), root, { tables: args.tables, maintenance: args.maintenance, roles: args.roles });
    const child = children(this, name, args.adoptTopLevel ?? false);
    const server = {
      connection: pulumi.output(args.server).apply((s) => ({
        host: s.host,
        port: s.port,
        database: args.database,
        user: s.user,
        sslmode: s.sslmode ?? ("require" as const),
        ...(s.sslRootCert ? { sslRootCert: path.resolve(root, s.sslRootCert) } : {}),
      })),
      password: pulumi.secret(args.password),
      database: args.database,
      cronDatabase: args.cronDatabase ?? args.database,
      partmanVersion: args.partmanVersion ?? null,
    };
    const common = { stack: spec.stack, connection: server.connection, password: server.password, providerVersion: PROVIDER_VERSION };

    // The component's own dependsOn (a parameter group, a reboot) holds back everything it creates.
    const preflight = new ServerPreflight(
      child.name("server-preflight"),
      { ...common, owner: null, partmanVersion: server.partmanVersion, needCron: spec.maintenance.enabled, cronDatabase: server.cronDatabase },
      { ...child.options("server-preflight"), dependsOn: opts.dependsOn },
    );
    const db = databaseObjects(spec, server, child, [preflight]);
    const owned = { ...common, owner: db.owner.name };

    const tables = spec.tables.map(
      (t) =>
        new PartitionedTable(
          child.name(t.name),
          {
            ...owned,
            name: t.name,
            ddl: t.ddl,
            ddlSql: t.ddlSql,
            control: t.control,
            ...(t.kind === "id" && t.type === "list" ? { type: "list" } : {}),
            interval: t.interval.text,
            premake: t.premake,
            retention: t.retention?.text ?? null,
            retentionKeepTable: t.retentionKeepTable,
            retentionSchema: t.retentionSchema,
            startPartition: t.startPartition,
            defaultPartition: t.defaultPartition,
            infiniteTimePartitions: t.infiniteTimePartitions,
            allowDataLoss: t.allowDataLoss,
            ...(t.kind === "time" && t.epoch ? { epoch: t.epoch } : {}),
            ...(t.kind === "time" && t.timeCodec ? (t.timeCodec === "uuidv7" ? { uuidv7: true } : { timeEncoder: t.timeCodec.encoder, timeDecoder: t.timeCodec.decoder }) : {}),
            ...(t.subpartition ? { subpartition: subpartitionDeclaration(t.subpartition) } : {}),
          },
          { ...child.options(t.name), ...tableOptions([db.partman, ...db.ownerAccess, ...db.archiveSchemas]) },
        ),
    );
    db.grantApp(tables);

    const job = new MaintenanceJob(
      child.name("maintenance-job"),
      {
        ...owned,
        jobName: spec.maintenance.jobName,
        schedule: spec.maintenance.schedule,
        analyze: spec.maintenance.analyze,
        enabled: spec.maintenance.enabled,
        lockTimeout: spec.maintenance.lockTimeout.text,
        maxLockWait: spec.maintenance.maxLockWait.text,
      },
      { ...child.options("maintenance-job"), dependsOn: [...tables, ...db.ownerAccess, ...(db.cron ? [db.cron] : [])] },
    );

    this.connection = server.connection;
    this.ownerRole = db.owner.name;
    this.appRole = db.app.name;
    this.appPassword = db.appPassword;
    this.tables = pulumi
      .all(tables.map((t) => pulumi.all([t.name, t.interval, t.premake, t.retention, t.retentionSchema])))
      .apply((rows) => Object.fromEntries(rows.map(([name, interval, premake, retention, retentionSchema]) => [name, { interval, premake, retention, retentionSchema }])));
    this.maintenance = { jobId: job.jobId, schedule: job.schedule, database: job.cronDatabase };
    this.registerOutputs({ connection: this.connection, ownerRole: this.ownerRole, appRole: this.appRole, tables: this.tables, maintenance: this.maintenance });
  }
}

/** A validated subpartition back as its declaration, for the PartitionedTable resource's inputs. */
function subpartitionDeclaration(s: SubpartitionSpec): SubpartitionDeclaration {
  return {
    control: s.control,
    interval: s.interval.text,
    premake: s.premake,
    retention: s.retention?.text ?? null,
    retentionKeepTable: s.retentionKeepTable,
    ...(s.kind === "time" && s.epoch ? { epoch: s.epoch } : {}),
  };
}
