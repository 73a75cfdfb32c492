// What PartmanDatabase creates inside the database with @pulumi/postgresql: the partman schema and
// extension, pg_cron, the owner and app roles with their grants, the tables' schemas and archive
// schemas. Every operation works without superuser (`superuser: false`), as on RDS, Cloud SQL and
// Azure.

import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import type { Declaration } from "../config/types";
import { libpqSslMode } from "../db/connection";
import type { ConnectionInputs } from "../providers/connection";
import type { Children } from "./children";
import { dataSchemaOptions } from "./options";
import { PARTMAN_SCHEMA } from "../partman/extension";
import { appDefaultPrivileges, appGrants, OWNER_MEMBER_OF, ownerGrants, type GrantSpec } from "./privileges";

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

/** The server the objects go on, and the names in it they need before it exists. */
export interface Server {
  connection: pulumi.Output<ConnectionInputs>;
  /** Secret. */
  password: pulumi.Output<string>;
  database: string;
  cronDatabase: string;
  partmanVersion: string | null;
}

export function databaseObjects(spec: Declaration, server: Server, child: Children, after: pulumi.Input<pulumi.Resource>[]): DatabaseObjects {
  const c = server.connection;
  const { database, cronDatabase } = server;
  const provider = new postgresql.Provider(
    child.name("postgres"),
    {
      host: c.host,
      port: c.port,
      database: c.database,
      username: c.user,
      password: server.password,
      // The mode as node-postgres and pg_dump use it; the provider (lib/pq) reads sslrootcert as libpq does.
      sslmode: c.apply((x) => libpqSslMode(x.sslmode, x.sslRootCert ?? null)),
      sslrootcert: c.apply((x) => x.sslRootCert),
      superuser: false,
      connectTimeout: 15,
    },
    child.options("postgres"),
  );
  // Every object below goes through the same provider, after `after` and its own dependencies.
  const create = <A, T>(
    ctor: new (name: string, args: A, opts: pulumi.CustomResourceOptions) => T,
    name: string,
    args: A,
    dependsOn: pulumi.Input<pulumi.Resource>[] = [],
    extra: pulumi.CustomResourceOptions = {},
  ): T => new ctor(child.name(name), args, { ...child.options(name), provider, dependsOn: [...after, ...dependsOn], ...extra });

  const schema = create(postgresql.Schema, "partman-schema", { name: PARTMAN_SCHEMA, database, ifNotExists: true });
  const partman = create(
    postgresql.Extension,
    "pg_partman",
    { name: "pg_partman", schema: PARTMAN_SCHEMA, database, ...(server.partmanVersion ? { version: server.partmanVersion } : {}) },
    [schema],
  );
  const cron = spec.maintenance.enabled ? create(postgresql.Extension, "pg_cron", { name: "pg_cron", database: cronDatabase }) : null;

  const role = (name: string, kind: "owner" | "app") => {
    const password = new random.RandomPassword(child.name(`${kind}-password`), { length: 32, special: false }, child.options(`${kind}-password`));
    return { role: create(postgresql.Role, `${kind}-role`, { name, login: true, password: password.result }), password: password.result };
  };
  const owner = role(spec.roles.owner, "owner");
  const app = role(spec.roles.app, "app");
  // The providers connect as the admin and SET ROLE to the owner, so tables and the job are the owner's.
  const adminActsAsOwner = create(postgresql.GrantRole, "admin-acts-as-owner", { role: c.user, grantRole: owner.role.name });
  const ownerMemberOf = OWNER_MEMBER_OF.map((r) => create(postgresql.GrantRole, `owner-member-of-${r}`, { role: owner.role.name, grantRole: r }));

  const grant = (g: GrantSpec, dependsOn: pulumi.Input<pulumi.Resource>[]) =>
    create(
      postgresql.Grant,
      g.key,
      { database: g.database, role: g.role, objectType: g.objectType, ...(g.schema ? { schema: g.schema } : {}), ...(g.objects ? { objects: g.objects } : {}), privileges: g.privileges },
      dependsOn,
    );
  // The tables' own schemas other than public: the grants on them need them. Not given to the
  // owner, so an existing schema keeps its owner (the owner gets USAGE and CREATE on it).
  const tableSchemas = new Map(
    [...new Set(spec.tables.map((t) => t.schema))]
      .filter((name) => name !== "public")
      .map((name) => [name, create(postgresql.Schema, `table-schema-${name}`, { name, database, ifNotExists: true }, [], dataSchemaOptions())]),
  );
  const inSchema = (name: string | undefined) => (name && tableSchemas.has(name) ? [tableSchemas.get(name)!] : []);
  const ownerGrantResources = ownerGrants(spec, database, cronDatabase)
    .filter((g) => cron !== null || !g.key.startsWith("owner-cron"))
    .map((g) => grant(g, [owner.role, g.key.startsWith("owner-cron") && cron ? cron : partman, ...inSchema(g.schema)]));
  const archiveSchemas = [...new Set(spec.tables.map((t) => t.retentionSchema).filter((s): s is string => s !== null))].map(
    (name) => create(postgresql.Schema, `schema-${name}`, { name, database, owner: owner.role.name, ifNotExists: true }, [owner.role], dataSchemaOptions()),
  );
  for (const d of appDefaultPrivileges(spec, database)) {
    create(
      postgresql.DefaultPrivileges,
      d.key,
      { database: d.database, role: d.role, owner: d.owner, schema: d.schema, objectType: "table", privileges: d.privileges },
      [owner.role, app.role, ...inSchema(d.schema)],
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
