// The validated declaration of one stack: what the engine reconciles a database towards.
// Raw stack-file values become these only through validate.ts.

import type { Interval } from "./interval";
import type { EpochUnit, IdCount } from "./span";

export interface QualifiedName {
  schema: string;
  table: string;
}

/** The shape of a set's partitions: by time (a timestamptz, timestamp or date control column, or
 *  an integer one holding epoch times) or by integers (smallint, integer or bigint): ranges of them,
 *  or one value per partition (`type: list`, interval 1). */
export type SetShape =
  | {
      kind: "time";
      interval: Interval;
      retention: Interval | null;
      /** The unit of an integer control column's epoch times; null on a time column. */
      epoch: EpochUnit | null;
    }
  | {
      kind: "id";
      /** range: ids per partition; list: one value per partition (pg_partman 5.1+), read as the
       *  range [value, value + 1) wherever bounds are compared. */
      type: "range" | "list";
      /** Ids per partition (1 on a list set). */
      interval: IdCount;
      /** Partitions whose ids are all below max(control) − retention expire. */
      retention: IdCount | null;
    };

/** Sub-partitions: each partition of the set is itself partitioned (pg_partman's create_sub_parent),
 *  by its own control column, interval, premake and retention. */
export type SubpartitionSpec = SetShape & {
  control: string;
  premake: number;
  retentionKeepTable: boolean;
};

/** A set partitioned by time or by ranges of ids (SetShape); a time set's control column may also be
 *  a uuid or text one holding times. */
export type TableSpec = TableSpecBase &
  (
    | (Extract<SetShape, { kind: "time" }> & {
        /** How a uuid or text control column holds times (pg_partman 5.2's time encoder and
         *  decoder): pg_partman's own UUIDv7 functions, or named ones; null on other columns. */
        timeCodec: "uuidv7" | { encoder: string; decoder: string } | null;
      })
    | Extract<SetShape, { kind: "id" }>
  );

interface TableSpecBase {
  /** `schema.table`, lower-case, as written in the stack file. */
  name: string;
  schema: string;
  table: string;
  /** Path of the DDL file as written in the stack file (relative to the project root); null: the
   *  table exists already and a migration copies its definition. */
  ddl: string | null;
  /** Contents of the DDL file. */
  ddlSql: string | null;
  control: string;
  premake: number;
  retentionKeepTable: boolean;
  retentionSchema: string | null;
  /** An ISO timestamp (time) or an id (integer range); only used when the partition set is created. */
  startPartition: string | null;
  defaultPartition: boolean;
  infiniteTimePartitions: boolean;
  /** Acknowledges that a retention change makes maintenance drop partitions holding data. */
  allowDataLoss: boolean;
  /** null: the set's partitions are plain tables. */
  subpartition: SubpartitionSpec | null;
  /** The application's hot queries on this table, proven to prune by `verify` and checkQueryPruning. */
  queries: QuerySpec[];
}

/** One hot query: run with EXPLAIN as a prepared statement, its example parameters bound. */
export interface QuerySpec {
  name: string;
  /** Where it is declared: `queries[i]` of the stack-file entry, or the file's path in the project. */
  source: string;
  /** One statement, `$1…$n` placeholders, no trailing semicolon. */
  sql: string;
  /** One example value per placeholder, as text (null: SQL NULL), bound as the application binds them. */
  params: (string | null)[];
  /** The most partitions of the table the query may scan, in its custom and in its generic plan. */
  maxPartitions: number;
  /** Every partition it reads past a trivial size must be read through an index. */
  index: boolean;
}

export interface MaintenanceSpec {
  /** false: the job is unscheduled. */
  enabled: boolean;
  schedule: string;
  jobName: string;
  analyze: boolean;
  /** The longest one attempt at a table's locks waits, and so holds other sessions up. */
  lockTimeout: Interval;
  /** How long maintenance tries, per table and run, before it defers that table to the next run. */
  maxLockWait: Interval;
}

export type DatabaseSpec =
  | { mode: "local"; database: string; partmanVersion: string | null }
  | {
      mode: "docker";
      database: string;
      /** Host port the container's 5432 is published on. */
      port: number;
      partmanVersion: string | null;
    }
  | {
      mode: "external";
      host: string;
      port: number;
      database: string;
      user: string;
      sslmode: SslMode;
      /** Absolute path of the CA certificate the server's is verified against (read when connecting); null: none. */
      sslRootCert: string | null;
      /** cron.database_name on that server: where pg_cron and its jobs live. */
      cronDatabase: string;
      partmanVersion: string | null;
    };

export type SslMode = "disable" | "prefer" | "require" | "verify-ca" | "verify-full";

export interface StackSpec {
  stack: string;
  /** Absolute path of the project root (the folder holding Pulumi.yaml). */
  root: string;
  tables: TableSpec[];
  maintenance: MaintenanceSpec;
  database: DatabaseSpec;
  roles: RolesSpec;
}

/** Roles the Pulumi program creates: the owner owns the partitioned tables and runs the cron
 *  job; the app role gets only DML on them. */
export interface RolesSpec {
  owner: string;
  app: string;
}

/** A stack's declaration apart from where its database is. */
export type Declaration = Pick<StackSpec, "stack" | "tables" | "maintenance" | "roles">;

/** Stack config as it comes out of a stack file or Pulumi config, keys without the project prefix. */
export interface RawStackConfig {
  tables?: unknown;
  maintenance?: unknown;
  database?: unknown;
  roles?: unknown;
}

/** One table as declared in a stack file's `partman-stack:tables` or a PartmanDatabase's `tables`:
 *  validated into a TableSpec. Keys and meanings are the README's declaration table. */
export interface TableDeclaration {
  name: string;
  /** Path of the DDL file, relative to the project root. */
  ddl?: string;
  control: string;
  /** range (default) or list: one partition per integer value (pg_partman 5.1+). */
  type?: "range" | "list";
  /** A PostgreSQL interval on a time control column; ids per partition on an integer one (1 on a list set). */
  interval?: string | number;
  premake?: number;
  retention?: string | number | null;
  retentionKeepTable?: boolean;
  retentionSchema?: string | null;
  startPartition?: string | number;
  defaultPartition?: boolean;
  infiniteTimePartitions?: boolean;
  allowDataLoss?: boolean;
  /** An integer control column holds epoch times in this unit: a time set. */
  epoch?: "seconds" | "milliseconds" | "microseconds" | "nanoseconds";
  /** A uuid control column holds UUIDv7 keys: a time set through pg_partman's uuid7 functions. */
  uuidv7?: boolean;
  /** Functions (timestamptz → key, key as text → timestamptz) of a uuid or text control column. */
  timeEncoder?: string;
  timeDecoder?: string;
  subpartition?: SubpartitionDeclaration;
  queries?: QueryDeclaration[];
}

/** A table's `subpartition:`: how each of its partitions is partitioned in turn. */
export interface SubpartitionDeclaration {
  control: string;
  /** A PostgreSQL interval on a time control column; ids per sub-partition on an integer one. */
  interval: string | number;
  premake?: number;
  retention?: string | number | null;
  retentionKeepTable?: boolean;
  epoch?: "seconds" | "milliseconds" | "microseconds" | "nanoseconds";
}

/** One entry of a table's `queries:`. */
export interface QueryDeclaration {
  name: string;
  sql: string;
  params?: (string | number | boolean | null)[];
  maxPartitions?: number;
  index?: boolean;
}

/** `partman-stack:maintenance` as declared. */
export interface MaintenanceDeclaration {
  enabled?: boolean;
  schedule?: string;
  jobName?: string;
  analyze?: boolean;
  lockTimeout?: string;
  maxLockWait?: string;
}
