// What the owner and app roles may do, as data. The Pulumi program creates one postgresql.Grant /
// DefaultPrivileges per entry; the tests apply the same entries as SQL (grantSql) to prove that a
// non-superuser owner can create, maintain and schedule everything. Mirrors pg_partman's
// documented needs for a non-superuser: ownership of the sets, CREATE on their schemas, the
// partman schema's tables and functions, and TEMPORARY (moving default data uses a temp table).

import type { StackSpec } from "../config/types";
import { quoteIdent } from "../config/identifiers";
import { PARTMAN_SCHEMA } from "../partman/extension";

export type GrantObjectType = "database" | "schema" | "table" | "function" | "procedure";

export interface GrantSpec {
  /** Pulumi resource name suffix. */
  key: string;
  database: string;
  role: string;
  objectType: GrantObjectType;
  schema?: string;
  /** Named objects; absent: every object of the type in the schema. */
  objects?: string[];
  privileges: string[];
}

export interface DefaultPrivilegeSpec {
  key: string;
  database: string;
  /** Gets the privileges on tables `owner` creates later in `schema` (new partitions). */
  role: string;
  owner: string;
  schema: string;
  privileges: string[];
}

const DML = ["SELECT", "INSERT", "UPDATE", "DELETE"];

const tableSchemas = (spec: Pick<StackSpec, "tables" | "roles">) => [...new Set(spec.tables.map((t) => t.schema))];

export function ownerGrants(spec: Pick<StackSpec, "tables" | "roles">, database: string, cronDatabase: string): GrantSpec[] {
  const role = spec.roles.owner;
  const grants: GrantSpec[] = [
    { key: "owner-database", database, role, objectType: "database", privileges: ["CONNECT", "CREATE", "TEMPORARY"] },
    ...tableSchemas(spec).map((schema): GrantSpec => ({ key: `owner-schema-${schema}`, database, role, objectType: "schema", schema, privileges: ["USAGE", "CREATE"] })),
    { key: "owner-partman-schema", database, role, objectType: "schema", schema: PARTMAN_SCHEMA, privileges: ["USAGE", "CREATE"] },
    { key: "owner-partman-tables", database, role, objectType: "table", schema: PARTMAN_SCHEMA, privileges: DML },
    { key: "owner-partman-functions", database, role, objectType: "function", schema: PARTMAN_SCHEMA, privileges: ["EXECUTE"] },
    { key: "owner-partman-procedures", database, role, objectType: "procedure", schema: PARTMAN_SCHEMA, privileges: ["EXECUTE"] },
    // The job is scheduled as the owner, so it runs as the owner; schedule_in_database is revoked from PUBLIC.
    { key: "owner-cron-schema", database: cronDatabase, role, objectType: "schema", schema: "cron", privileges: ["USAGE"] },
    { key: "owner-cron-functions", database: cronDatabase, role, objectType: "function", schema: "cron", privileges: ["EXECUTE"] },
  ];
  if (cronDatabase !== database) grants.push({ key: "owner-cron-database", database: cronDatabase, role, objectType: "database", privileges: ["CONNECT"] });
  return grants;
}

/** Built-in roles the owner is made a member of: pg_read_all_stats lets maintenance see how long
 *  another role's transaction has held a table, so it waits without queuing behind it (see
 *  sql/maintenance/lock_in_order.sql) and names it when it gives up. */
export const OWNER_MEMBER_OF = ["pg_read_all_stats"];

export function appGrants(spec: Pick<StackSpec, "tables" | "roles">, database: string): GrantSpec[] {
  const role = spec.roles.app;
  return [
    { key: "app-database", database, role, objectType: "database", privileges: ["CONNECT"] },
    ...tableSchemas(spec).flatMap((schema): GrantSpec[] => [
      { key: `app-schema-${schema}`, database, role, objectType: "schema", schema, privileges: ["USAGE"] },
      {
        key: `app-tables-${schema}`,
        database,
        role,
        objectType: "table",
        schema,
        objects: spec.tables.filter((t) => t.schema === schema).map((t) => t.table),
        privileges: DML,
      },
    ]),
  ];
}

export function appDefaultPrivileges(spec: Pick<StackSpec, "tables" | "roles">, database: string): DefaultPrivilegeSpec[] {
  return tableSchemas(spec).map((schema) => ({ key: `app-future-partitions-${schema}`, database, role: spec.roles.app, owner: spec.roles.owner, schema, privileges: DML }));
}

/** The SQL a GrantSpec amounts to, run in `database`. */
export function grantSql(g: GrantSpec): string {
  const to = `TO ${quoteIdent(g.role)}`;
  const privs = g.privileges.join(", ");
  switch (g.objectType) {
    case "database":
      return `GRANT ${privs} ON DATABASE ${quoteIdent(g.database)} ${to};`;
    case "schema":
      return `GRANT ${privs} ON SCHEMA ${quoteIdent(g.schema!)} ${to};`;
    default: {
      const kind = g.objectType.toUpperCase();
      const on = g.objects
        ? `${kind} ${g.objects.map((o) => `${quoteIdent(g.schema!)}.${quoteIdent(o)}`).join(", ")}`
        : `ALL ${kind}S IN SCHEMA ${quoteIdent(g.schema!)}`;
      return `GRANT ${privs} ON ${on} ${to};`;
    }
  }
}

export function defaultPrivilegeSql(d: DefaultPrivilegeSpec): string {
  return `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(d.owner)} IN SCHEMA ${quoteIdent(d.schema)} GRANT ${d.privileges.join(", ")} ON TABLES TO ${quoteIdent(d.role)};`;
}
