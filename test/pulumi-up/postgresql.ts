// What terraform-provider-postgresql (bridged by @pulumi/postgresql 3.18) does for the resources
// the program declares, statement for statement, from its source (postgresql/helpers.go and
// resource_postgresql_{role,schema,extension,grant,grant_role,default_privileges}.go): the same
// SQL, transactions and advisory locks, in the database the resource names.

import { Client } from "pg";

type Props = Record<string, any>;

export interface PgProvider {
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
  sslmode: string;
}

/** A bridged resource type: create, and the in-place update of the inputs in `updatable` (a change
 *  to any other input is a replacement or an update this engine does not emulate). */
export interface Bridged {
  updatable: string[];
  create(inputs: Props, provider?: PgProvider): Promise<{ id: string; outputs?: Props }>;
  update?(id: string, olds: Props, news: Props, provider?: PgProvider): Promise<void>;
}

/** Terraform set attributes: their order is no change. */
export const SET_INPUTS = ["privileges", "objects", "columns", "roles"];

/** The provider resource's inputs as the provider reads them (non-string config arrives as JSON text). */
export function pgProvider(inputs: Props): PgProvider {
  return {
    host: inputs.host,
    port: inputs.port === undefined ? 5432 : Number(JSON.parse(inputs.port)),
    username: inputs.username ?? "postgres",
    password: inputs.password ?? "",
    database: inputs.database ?? "postgres",
    sslmode: inputs.sslmode ?? "require",
  };
}

/** pq.QuoteIdentifier */
const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;
/** pqQuoteLiteral, inside single quotes */
const lit = (s: string) => s.replace(/\\/g, "\\\\").replace(/'/g, "''");

/** startTransaction on `database` ("" = the provider's); closing the connection rolls back on error, as deferredRollback. */
async function transaction(p: PgProvider | undefined, database: string, fn: (c: Client) => Promise<unknown>): Promise<void> {
  if (!p) throw new Error("resource has no postgresql provider");
  if (p.sslmode !== "disable") throw new Error(`sslmode ${p.sslmode} is not emulated (only disable)`);
  const c = new Client({ host: p.host, port: p.port, user: p.username, password: p.password, database: database || p.database });
  await c.connect();
  try {
    await c.query("BEGIN");
    await fn(c);
    await c.query("COMMIT");
  } finally {
    await c.end();
  }
}

async function pgLockRole(c: Client, role: string): Promise<void> {
  await c.query("SET statement_timeout = 0");
  await c.query("SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_roles WHERE rolname = $1", [role]);
  await c.query("SELECT pg_advisory_xact_lock(member::bigint) FROM pg_auth_members JOIN pg_roles ON roleid = pg_roles.oid WHERE rolname = $1", [role]);
}

async function pgLockDatabase(c: Client, database: string): Promise<void> {
  await c.query("SET statement_timeout = 0");
  await c.query("SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_database WHERE datname = $1", [database]);
}

/** A superuser admin runs fn directly; a non-superuser's temporary GRANT of the roles is not emulated. */
async function withRolesGranted(c: Client, roles: string[], fn: () => Promise<void>): Promise<void> {
  if (roles.length > 0 && !(await c.query("SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER")).rows[0]?.rolsuper) {
    throw new Error(`temporarily granting ${roles.join(", ")} to a non-superuser admin is not emulated`);
  }
  await fn();
}

async function schemaOwner(c: Client, schema: string): Promise<string> {
  const owner = (await c.query("SELECT rolname FROM pg_namespace JOIN pg_roles ON nspowner = pg_roles.oid WHERE nspname = $1", [schema])).rows[0]?.rolname;
  if (!owner) throw new Error(`could not find schema '${schema}' while looking for owner`);
  return owner;
}

const ROLE_FLAGS: [input: string, sql: string, byDefault: boolean][] = [
  ["superuser", "SUPERUSER", false],
  ["createDatabase", "CREATEDB", false],
  ["createRole", "CREATEROLE", false],
  ["inherit", "INHERIT", true],
  ["login", "LOGIN", false],
  ["bypassRowLevelSecurity", "BYPASSRLS", false],
  ["replication", "REPLICATION", false],
];

const searchPath = (role: string) => `ALTER ROLE ${q(role)} SET search_path TO DEFAULT`;

const role: Bridged = {
  updatable: ["name", "password", "login"],
  async create(i, p) {
    const opts = [
      ...(i.password ? [i.encryptedPassword === false ? "UNENCRYPTED" : "ENCRYPTED", `PASSWORD '${lit(i.password)}'`] : []),
      `VALID UNTIL '${lit(i.validUntil || "infinity")}'`,
      `CONNECTION LIMIT ${i.connectionLimit ?? -1}`,
      ...ROLE_FLAGS.map(([k, sql, byDefault]) => ((i[k] ?? byDefault) ? sql : `NO${sql}`)),
    ];
    await transaction(p, "", async (c) => {
      await c.query(`CREATE ROLE ${q(i.name)} WITH ${opts.join(" ")}`);
      await c.query(searchPath(i.name));
    });
    return { id: i.name };
  },
  async update(_id, o, n, p) {
    await transaction(p, "", async (c) => {
      await pgLockRole(c, o.name);
      if (o.name !== n.name) await c.query(`ALTER ROLE ${q(o.name)} RENAME TO ${q(n.name)}`);
      if ((o.password !== n.password || o.name !== n.name) && n.password) await c.query(`ALTER ROLE ${q(n.name)} PASSWORD '${lit(n.password)}'`);
      if (o.login !== n.login) await c.query(`ALTER ROLE ${q(n.name)} WITH ${n.login ? "LOGIN" : "NOLOGIN"}`);
      // revokeRoles: the role keeps no membership the (absent) `roles` input does not list.
      const memberOf = await c.query(
        "SELECT pg_get_userbyid(roleid) AS r FROM pg_catalog.pg_auth_members members JOIN pg_catalog.pg_roles ON members.member = pg_roles.oid WHERE rolname = $1",
        [n.name],
      );
      for (const { r } of memberOf.rows) await c.query(`REVOKE ${q(r)} FROM ${q(n.name)}`);
      await c.query(searchPath(n.name));
    });
  },
};

const schema: Bridged = {
  updatable: [],
  async create(i, p) {
    const database = i.database ?? p?.database;
    await transaction(p, database, async (c) => {
      const dbOwner = (await c.query("SELECT rolname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid WHERE datname = $1", [database])).rows[0]?.rolname;
      if (!dbOwner) throw new Error(`could not find database '${database}' while looking for owner`);
      await withRolesGranted(c, [dbOwner, ...(i.owner && i.owner !== dbOwner ? [i.owner] : [])], async () => {
        const found = (await c.query("SELECT TRUE FROM pg_catalog.pg_namespace WHERE nspname = $1", [i.name])).rowCount;
        if (!found) await c.query(`CREATE SCHEMA ${i.ifNotExists === false ? "" : "IF NOT EXISTS "}${q(i.name)}${i.owner ? ` AUTHORIZATION ${q(i.owner)}` : ""}`);
        else if (i.owner) await c.query(`ALTER SCHEMA ${q(i.name)} OWNER TO ${q(i.owner)}`);
      });
    });
    return { id: `${database}.${i.name}` };
  },
};

const extension: Bridged = {
  updatable: [],
  async create(i, p) {
    const database = i.database ?? p?.database;
    const sql = `CREATE EXTENSION IF NOT EXISTS ${q(i.name)}${i.schema ? ` SCHEMA ${q(i.schema)}` : ""}${i.version ? ` VERSION ${q(i.version)}` : ""}${i.createCascade ? " CASCADE" : ""}`;
    await transaction(p, database, (c) => c.query(sql));
    return { id: `${database}.${i.name}` };
  },
};

const grantRole: Bridged = {
  updatable: [],
  async create(i, p) {
    await transaction(p, "", async (c) => {
      await c.query(`REVOKE ${q(i.grantRole)} FROM ${q(i.role)}`);
      await c.query(`GRANT ${q(i.grantRole)} TO ${q(i.role)}${i.withAdminOption ? " WITH ADMIN OPTION" : ""}`);
    });
    return { id: [i.role, i.grantRole, String(i.withAdminOption ?? false)].join("_") };
  },
};

const NO_SCHEMA = ["database", "foreign_data_wrapper", "foreign_server"];
const IN_SCHEMA = ["table", "sequence", "function", "procedure", "routine"];

/** setToPgIdentList, with quoteIdentifyIdent's `name(arg types)` for functions. */
function objectList(g: Props): string {
  return g.objects
    .map((o: string) => {
      const [name, args] = o.split("(");
      return `${q(g.schema)}.${q(name)}${args === undefined ? "" : `(${args}`}`;
    })
    .join(",");
}

/** createRevokeQuery */
function revokeQuery(g: Props): string {
  const from = `FROM ${q(g.role)}`;
  const kind = g.objectType.toUpperCase();
  if (g.objectType === "database") return `REVOKE ALL PRIVILEGES ON DATABASE ${q(g.database)} ${from}`;
  if (g.objectType === "schema") return `REVOKE ALL PRIVILEGES ON SCHEMA ${q(g.schema)} ${from}`;
  if (!IN_SCHEMA.includes(g.objectType)) throw new Error(`grants on ${g.objectType} are not emulated`);
  if (!g.objects?.length) return `REVOKE ALL PRIVILEGES ON ALL ${kind}S IN SCHEMA ${q(g.schema)} ${from}`;
  return `REVOKE ${g.privileges.length ? g.privileges.join(",") : "ALL PRIVILEGES"} ON ${kind} ${objectList(g)} ${from}`;
}

/** createGrantQuery */
function grantQuery(g: Props): string {
  const kind = g.objectType.toUpperCase();
  const on =
    g.objectType === "database"
      ? `DATABASE ${q(g.database)}`
      : g.objectType === "schema"
        ? `SCHEMA ${q(g.schema)}`
        : g.objects?.length
          ? `${kind} ${objectList(g)}`
          : `ALL ${kind}S IN SCHEMA ${q(g.schema)}`;
  return `GRANT ${g.privileges.join(",")} ON ${on} TO ${q(g.role)}${g.withGrantOption ? " WITH GRANT OPTION" : ""}`;
}

/** getRolesToGrant (the owners a non-superuser admin would need; reading them fails on a missing schema). */
async function rolesToGrant(c: Client, g: Props): Promise<string[]> {
  if (NO_SCHEMA.includes(g.objectType)) return [];
  const owners: string[] = g.objectType === "schema" ? [] : (await c.query("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", [g.schema])).rows.map((r) => r.tableowner);
  const owner = await schemaOwner(c, g.schema);
  return owners.includes(owner) ? owners : [...owners, owner];
}

/** resourcePostgreSQLGrantCreateOrUpdate: the revoke uses the previous values on update (usePrevious). */
async function grantPrivileges(g: Props, previous: Props, p?: PgProvider): Promise<void> {
  await transaction(p, g.database, async (c) => {
    await pgLockRole(c, g.role);
    if (g.objectType === "database") await pgLockDatabase(c, g.database);
    await withRolesGranted(c, await rolesToGrant(c, g), async () => {
      await c.query(revokeQuery(previous));
      if (g.privileges.length > 0) await c.query(grantQuery(g));
    });
  });
}

const grant: Bridged = {
  updatable: ["privileges"],
  async create(i, p) {
    await grantPrivileges(i, i, p);
    const id = [i.role, i.database, ...(NO_SCHEMA.includes(i.objectType) ? [] : [i.schema]), i.objectType, ...(i.objects ?? []), ...(i.columns ?? [])];
    return { id: id.join("_") };
  },
  update: (_id, o, n, p) => grantPrivileges(n, { ...n, privileges: o.privileges }, p),
};

async function alterDefaultPrivileges(d: Props, p?: PgProvider): Promise<void> {
  const inSchema = d.schema ? `IN SCHEMA ${q(d.schema)}` : "";
  const kind = `${d.objectType.toUpperCase()}S`;
  await transaction(p, d.database, async (c) => {
    await pgLockRole(c, d.owner);
    await withRolesGranted(c, [d.owner], async () => {
      await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${q(d.owner)} ${inSchema} REVOKE ALL ON ${kind} FROM ${q(d.role)}`);
      if (d.privileges.length > 0) {
        await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${q(d.owner)} ${inSchema} GRANT ${d.privileges.join(",")} ON ${kind} TO ${q(d.role)}${d.withGrantOption ? " WITH GRANT OPTION" : ""}`);
      }
    });
  });
}

const defaultPrivileges: Bridged = {
  updatable: ["privileges"],
  async create(i, p) {
    await alterDefaultPrivileges(i, p);
    return { id: [i.role, i.database, i.schema || "noschema", i.owner, i.objectType].join("_") };
  },
  update: (_id, _o, n, p) => alterDefaultPrivileges(n, p),
};

export const POSTGRESQL: Record<string, Bridged> = {
  "postgresql:index/role:Role": role,
  "postgresql:index/schema:Schema": schema,
  "postgresql:index/extension:Extension": extension,
  "postgresql:index/grantRole:GrantRole": grantRole,
  "postgresql:index/grant:Grant": grant,
  "postgresql:index/defaultPrivileges:DefaultPrivileges": defaultPrivileges,
};
