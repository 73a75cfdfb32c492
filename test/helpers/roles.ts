// The owner and app roles as the Pulumi program sets them up (postgresql.Role, Grant and
// DefaultPrivileges resources), applied as SQL from the same privilege lists, so provider tests
// run as a non-superuser owner with exactly those privileges. Roles are cluster-wide: named per
// test database.

import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";
import type { StackSpec } from "../../infra/config/types";
import { appDefaultPrivileges, appGrants, defaultPrivilegeSql, grantSql, OWNER_MEMBER_OF, ownerGrants, type GrantSpec } from "../../infra/component/privileges";
import { clusterPassword, type TestDatabase } from "./database";
import { REPO_ROOT } from "./spec";

export interface TestRoles {
  owner: string;
  app: string;
  grantApp(spec: StackSpec): Promise<void>;
  drop(): Promise<void>;
}

const CRON_DATABASE = "postgres";

async function inDatabase(db: TestDatabase, database: string, sql: string[]): Promise<void> {
  const c = new Client({ connectionString: db.url.replace(/\/[^/]*$/, `/${database}`) });
  await c.connect();
  try {
    for (const s of sql) await c.query(s);
  } finally {
    await c.end();
  }
}

async function applyGrants(db: TestDatabase, grants: GrantSpec[]): Promise<void> {
  for (const database of new Set(grants.map((g) => g.database))) {
    await inDatabase(db, database, grants.filter((g) => g.database === database).map(grantSql));
  }
}

export async function createRoles(db: TestDatabase, spec: StackSpec): Promise<TestRoles> {
  const owner = spec.roles.owner;
  const app = spec.roles.app;
  await inDatabase(db, "postgres", [`CREATE ROLE ${owner} LOGIN PASSWORD '${clusterPassword()}'`, `CREATE ROLE ${app} LOGIN PASSWORD '${clusterPassword()}'`, ...OWNER_MEMBER_OF.map((r) => `GRANT ${r} TO ${owner}`)]);
  await applyGrants(db, ownerGrants(spec, db.name, CRON_DATABASE));
  await inDatabase(db, db.name, appDefaultPrivileges(spec, db.name).map(defaultPrivilegeSql));
  return {
    owner,
    app,
    grantApp: (s) => applyGrants(db, appGrants(s, db.name)),
    async drop() {
      await inDatabase(db, CRON_DATABASE, [`DROP OWNED BY ${owner}, ${app}`]);
      await db.drop();
      await inDatabase(db, "postgres", [`DROP ROLE IF EXISTS ${owner}`, `DROP ROLE IF EXISTS ${app}`]);
    },
  };
}

export function ddlText(file: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
}
