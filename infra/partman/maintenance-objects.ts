// partman-stack's own objects in the target database (sql/maintenance: its retention table,
// maintenance runs, the lock helper and the maintenance procedures, which call pg_partman): the SQL
// that installs them for the installed pg_partman, and the calls that run maintenance through them.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { MaintenanceSpec, TableSpec } from "../config/types";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import { assertTrustedSchemaSql } from "../db/schema-trust";
import { PACKAGE_ROOT } from "../package-root";
import type { PartmanInstall } from "./version";

export const MAINTENANCE_SCHEMA = "partman_stack";
export const MAINTENANCE_SQL_DIR = "sql/maintenance";
/** In the order they are installed. */
const MAINTENANCE_SQL_FILES = ["tables.sql", "lock_in_order.sql", "fences.sql", "partition_bounds.sql", "premake.sql", "expire.sql", "run_maintenance.sql"];
// Read when the module loads, so a closure-serialized provider carries the text.
const MAINTENANCE_SQL = MAINTENANCE_SQL_FILES.map((f) => fs.readFileSync(path.join(PACKAGE_ROOT, MAINTENANCE_SQL_DIR, f), "utf8").trim());

/** The SQL that installs (or updates) those objects for this pg_partman, ending with the comment
 *  that marks the installed version: introspect reads the mark back, and plan reinstalls when it
 *  differs. The schema is created as the acting role's (two first installs at once: the second
 *  waits for the first, then finds it); concurrent installs (the Pulumi engine creates tables side
 *  by side) take turns on the schema's own lock, which COMMENT takes and only its owner can; and the
 *  objects go in only while the schema is the acting role's alone, checked under that lock. PUBLIC
 *  gets no EXECUTE on what is installed. */
export function maintenanceObjects(p: PartmanInstall): { mark: string; sql: string } {
  const body = maintenanceDialect(p, MAINTENANCE_SQL.join("\n\n"));
  const mark = `partman-stack ${MAINTENANCE_SQL_DIR} sha256:${crypto.createHash("sha256").update(body).digest("hex").slice(0, 16)}`;
  const schema = MAINTENANCE_SCHEMA;
  return {
    mark,
    sql: [
      `DO $$ BEGIN CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION CURRENT_USER; EXCEPTION WHEN unique_violation THEN NULL; END $$;`,
      `COMMENT ON SCHEMA ${schema} IS 'partman-stack: being installed';`,
      assertTrustedSchemaSql(MAINTENANCE_SCHEMA),
      body,
      `REVOKE ALL ON ALL ROUTINES IN SCHEMA ${schema} FROM PUBLIC;`,
      `COMMENT ON SCHEMA ${schema} IS ${quoteLiteral(mark)};`,
    ].join("\n\n"),
  };
}

/** The maintenance SQL for this pg_partman: @extschema@ is its schema, and each @partman_…@ flag
 *  (true or false) says how this version behaves, for the SQL to branch on:
 *  - catches_set_errors: 5.5.0's run_maintenance catches a set's error (CVE-2026-61822), sets its
 *    maintenance_last_run NULL and only warns; premake raises it again.
 *  - has_detach_before_drop: 5.5.0's part_config.detach_before_drop, which expire sets for a set
 *    referenced by a foreign key. */
export function maintenanceDialect(p: PartmanInstall, sql: string): string {
  const flags: Record<string, string> = { catches_set_errors: String(p.catchesSetErrors), has_detach_before_drop: String(p.detachBeforeDrop) };
  return sql.replace(/@extschema@/g, quoteIdent(p.schema)).replace(/@partman_([a-z_]+)@/g, (m, flag: string) => {
    if (!(flag in flags)) throw new Error(`${MAINTENANCE_SQL_DIR}: unknown placeholder ${m}`);
    return flags[flag];
  });
}

/** The install of partman-stack's objects when `installed` (introspect's maintenanceObjects) is
 *  not this version's mark, for what runs outside a plan (archive, verify --fix, migrate). */
export function objectsToInstall(p: PartmanInstall, installed: string | null): string | null {
  const objects = maintenanceObjects(p);
  return installed === objects.mark ? null : objects.sql;
}

function maintenanceArgs(m: MaintenanceSpec): string {
  return `p_analyze => ${m.analyze}, p_lock_timeout => ${quoteLiteral(m.lockTimeout.text)}, p_max_lock_wait => ${quoteLiteral(m.maxLockWait.text)}`;
}

/** What the pg_cron job runs: every set's maintenance through partman_stack.run_maintenance. */
export function maintenanceCommand(m: MaintenanceSpec): string {
  return `CALL ${MAINTENANCE_SCHEMA}.run_maintenance(${maintenanceArgs(m)})`;
}

/** Maintenance of one set, as the job runs it: a procedure, so it runs outside apply's transaction. */
export function runTableMaintenanceSql(t: TableSpec, m: MaintenanceSpec): string {
  return `CALL ${MAINTENANCE_SCHEMA}.run_maintenance(p_parent_table => ${quoteLiteral(`${t.schema}.${t.table}`)}, ${maintenanceArgs(m)});`;
}
