// What the program creates inside the database with @pulumi/postgresql: the partman schema and
// extension, pg_cron, the owner and app roles with their grants, the tables' schemas and archive
// schemas. Every operation works without superuser (`superuser: false`), as on RDS, Cloud SQL and
// Azure.

import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import type { StackSpec } from "../config/types";
import type { Target } from "./target";
import { dataSchemaOptions } from "./options";
import { appDefaultPrivileges, appGrants, OWNER_MEMBER_OF, ownerGrants, PARTMAN_SCHEMA, type GrantSpec } from "./privileges";

export interface DatabaseObjects {
  owner: postgresql.Role;
  app: postgresql.Role;
  appPassword: pulumi.Output<string>;
  partman: postgresql.Extension;
  cron: postgresql.Extension | null;
  /** Everything the owner needs before it can create tables and schedule the job. */
  ownerAccess: pulumi.Resource[];
  archiveSchemas: postgresql.Schema[];
  /** Grants on the tables themselves: created after the tables exist. */
  grantApp(tables: pulumi.Resource[]): void;
}

export function databaseObjects(spec: StackSpec, target: Target, after: pulumi.Resource[]): DatabaseObjects {
  const c = target.connection;
  const database = spec.database.database;
  const provider = new postgresql.Provider("postgres", {
    host: c.host,
    port: c.port,
    database: c.database,
    username: c.user,
    password: target.password,
    sslmode: c.sslmode,
    superuser: false,
    connectTimeout: 15,
  });
  const opts = (dependsOn: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions => ({ provider, dependsOn: [...after, ...dependsOn] });

  const schema = new postgresql.Schema("partman-schema", { name: PARTMAN_SCHEMA, database, ifNotExists: true }, opts());
  const partman = new postgresql.Extension(
    "pg_partman",
    { name: "pg_partman", schema: PARTMAN_SCHEMA, database, ...(spec.database.partmanVersion ? { version: spec.database.partmanVersion } : {}) },
    opts([schema]),
  );
  const cron = spec.maintenance.enabled ? new postgresql.Extension("pg_cron", { name: "pg_cron", database: target.cronDatabase }, opts()) : null;

  const role = (name: string, kind: "owner" | "app") => {
    const password = new random.RandomPassword(`${kind}-password`, { length: 32, special: false });
    return { role: new postgresql.Role(`${kind}-role`, { name, login: true, password: password.result }, opts()), password: password.result };
  };
  const owner = role(spec.roles.owner, "owner");
  const app = role(spec.roles.app, "app");
  // The providers connect as the admin and SET ROLE to the owner, so tables and the job are the owner's.
  const adminActsAsOwner = new postgresql.GrantRole("admin-acts-as-owner", { role: c.user, grantRole: owner.role.name }, opts());
  const ownerMemberOf = OWNER_MEMBER_OF.map((r) => new postgresql.GrantRole(`owner-member-of-${r}`, { role: owner.role.name, grantRole: r }, opts()));

  const grant = (g: GrantSpec, dependsOn: pulumi.Input<pulumi.Resource>[]) =>
    new postgresql.Grant(
      g.key,
      { database: g.database, role: g.role, objectType: g.objectType, ...(g.schema ? { schema: g.schema } : {}), ...(g.objects ? { objects: g.objects } : {}), privileges: g.privileges },
      opts(dependsOn),
    );
  // The tables' own schemas other than public: the grants on them need them. Not given to the
  // owner, so an existing schema keeps its owner (the owner gets USAGE and CREATE on it).
  const tableSchemas = new Map(
    [...new Set(spec.tables.map((t) => t.schema))]
      .filter((name) => name !== "public")
      .map((name) => [name, new postgresql.Schema(`table-schema-${name}`, { name, database, ifNotExists: true }, { ...opts(), ...dataSchemaOptions() })]),
  );
  const inSchema = (name: string | undefined) => (name && tableSchemas.has(name) ? [tableSchemas.get(name)!] : []);
  const ownerGrantResources = ownerGrants(spec, database, target.cronDatabase)
    .filter((g) => cron !== null || !g.key.startsWith("owner-cron"))
    .map((g) => grant(g, [owner.role, g.key.startsWith("owner-cron") && cron ? cron : partman, ...inSchema(g.schema)]));
  const archiveSchemas = [...new Set(spec.tables.map((t) => t.retentionSchema).filter((s): s is string => s !== null))].map(
    (name) => new postgresql.Schema(`schema-${name}`, { name, database, owner: owner.role.name, ifNotExists: true }, { ...opts([owner.role]), ...dataSchemaOptions() }),
  );
  for (const d of appDefaultPrivileges(spec, database)) {
    new postgresql.DefaultPrivileges(
      d.key,
      { database: d.database, role: d.role, owner: d.owner, schema: d.schema, objectType: "table", privileges: d.privileges },
      opts([owner.role, app.role, ...inSchema(d.schema)]),
    );
  }

  return {
    owner: owner.role,
    app: app.role,
    appPassword: pulumi.secret(app.password),
    partman,
    cron,
    ownerAccess: [...ownerGrantResources, adminActsAsOwner, ...ownerMemberOf],
    archiveSchemas,
    grantApp(tables) {
      for (const g of appGrants(spec, database)) grant(g, [app.role, ...tables]);
    },
  };
}
