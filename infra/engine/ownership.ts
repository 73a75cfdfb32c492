// What partman-stack maintains must belong to the role it acts as: the stack's owner role once it
// exists. Tables and partman-stack's objects made before that role existed still belong to whoever
// made them, and the owner role can neither read partman_stack's tables nor create, detach or drop
// partitions of a table it does not own. Found before anything is read or planned, with the
// statement that hands them over.

import type { Client } from "pg";
import type { StackSpec } from "../config/types";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import { schemaProblems, UntrustedSchema, untrustedSchema } from "../db/schema-trust";
import { templateTablesSql } from "../partman/config";
import { installedPartman, partmanSchemaProblems } from "../partman/extension";
import { MAINTENANCE_SCHEMA } from "../partman/maintenance-objects";
import { PartmanStackError } from "../config/errors";

/** The relations of the declared tables' partition trees and partman_stack's tables, views and
 *  routines, as SQL rows (kind, object, owner oid, ours: in partman_stack, mine), for `names` (the declared tables,
 *  schema.table) and the acting role (an SQL expression of its oid). `mine`: owned by it, or for a declared table by a role it acts for;
 *  partman_stack's objects must be the acting role's own (schema-trust.ts). The trees are walked in
 *  pg_inherits, not with pg_partition_tree, which locks every partition and so would queue behind a
 *  DROP waiting for one. Objects are named from their schema and name (a regclass of one dropped
 *  meanwhile would print as its OID, and the handover's ALTER fail as a syntax error). */
const MAINTAINED = (names: string, acting: string, partmanSchema: string | null) => `
  WITH RECURSIVE tree AS (
    SELECT to_regclass(d)::oid AS relid FROM unnest(${names}::text[]) d WHERE to_regclass(d) IS NOT NULL
    UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid),
  maintained AS (SELECT relid FROM tree${
    // The sets' template tables: pg_partman 5.5 (CVE-2026-61820) creates partitions from a
    // template only for a role acting for its owner.
    partmanSchema === null
      ? ""
      : `
    UNION ALL ${templateTablesSql(partmanSchema, "SELECT format('%s.%s', n.nspname, c.relname) FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace")}`
  })
  SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind, format('%I.%I', cn.nspname, c.relname) AS object, c.relowner AS owner,
         c.relnamespace = to_regnamespace(${quoteLiteral(MAINTENANCE_SCHEMA)}) AS ours,
         CASE WHEN c.relnamespace = to_regnamespace(${quoteLiteral(MAINTENANCE_SCHEMA)}) THEN c.relowner = ${acting} ELSE pg_has_role(${acting}, c.relowner, 'USAGE') END AS mine
    FROM pg_class c JOIN pg_namespace cn ON cn.oid = c.relnamespace
   WHERE c.relnamespace = to_regnamespace(${quoteLiteral(MAINTENANCE_SCHEMA)}) AND c.relkind IN ('r', 'p', 'v')
      OR c.oid IN (SELECT relid FROM maintained)
  UNION ALL
  SELECT 'ROUTINE', format('%I.%I(%s)', ${quoteLiteral(MAINTENANCE_SCHEMA)}, p.proname, pg_get_function_identity_arguments(p.oid)), p.proowner, true, p.proowner = ${acting} FROM pg_proc p WHERE p.pronamespace = to_regnamespace(${quoteLiteral(MAINTENANCE_SCHEMA)})`;
export class ForeignOwnership extends PartmanStackError {}

/** Throws UntrustedSchema when partman_stack holds what another role could have planted (see
 *  schema-trust.ts), and ForeignOwnership naming what the acting role (current_user) cannot
 *  maintain because the connecting user or a superuser made it before, who owns it and how to hand
 *  it over; returns when the acting role owns (a declared table: or acts for the owner of) everything. */
export async function requireOwnership(db: Client, spec: StackSpec): Promise<void> {
  const own = await schemaProblems(db, MAINTENANCE_SCHEMA);
  const acting = (await db.query<{ u: string }>("SELECT current_user AS u")).rows[0].u;
  if (own.some((p) => !p.trusted || p.kind === "grant")) throw untrustedSchema(MAINTENANCE_SCHEMA, acting, own);
  const partman = await partmanSchemaProblems(db);
  if (partman.length > 0) {
    throw new UntrustedSchema(
      `pg_partman's schema is not safe to run pg_partman from (${partman.join("; ")}): pg_partman's functions look names up there first, as the owner in every maintenance run. Nothing was changed`,
      `Drop what is not pg_partman's (after checking what it is) and REVOKE CREATE ON SCHEMA from PUBLIC, then run again`,
      { join: ". " },
    );
  }
  const names = spec.tables.map((t) => t.name);
  const partmanSchema = (await installedPartman(db))?.schema ?? null;
  const foreign = (
    await db.query<{ object: string; owner: string }>(
      `SELECT m.object, pg_get_userbyid(m.owner) AS owner FROM (${MAINTAINED("$1", "(SELECT oid FROM pg_roles WHERE rolname = current_user)", partmanSchema)}) m WHERE NOT m.mine ORDER BY m.ours, m.kind DESC, m.object`,
      [names],
    )
  ).rows;
  if (foreign.length === 0 && own.length === 0) return;
  // The schema itself, when it is all that another user owns.
  if (foreign.length === 0) foreign.push(...own.map((p) => ({ object: p.object, owner: p.role })));
  const owners = [...new Set(foreign.map((f) => f.owner))];
  const shown = foreign.slice(0, 5).map((f) => f.object).join(", ") + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : "");
  const list = `ARRAY[${names.map(quoteLiteral).join(", ")}]`;
  const [who, why] =
    acting === spec.roles.owner
      ? ["the stack's owner role", `made before ${acting} existed, they cannot be maintained by it`]
      : [`the user it connects as, the stack's owner role ${spec.roles.owner} not existing`, `made by another role, they cannot be maintained by ${acting}`];
  throw new ForeignOwnership(
    `partman-stack acts as role ${acting} (${who}), but ${owners.join(", ")} own${owners.length === 1 ? "s" : ""} ${foreign.length} of the objects it maintains ` +
      `(${shown}): ${why}. Nothing was changed`,
    `Hand them over once, connected as ${owners.join(" or ")} or a superuser ` +
      `(each ALTER waits for, then briefly holds, its table's ACCESS EXCLUSIVE lock: run it when a moment's wait is acceptable), then run again:\n` +
      `DO $$ DECLARE s text; BEGIN\n` +
      `  FOR s IN SELECT format('ALTER %s %s OWNER TO %I', m.kind, m.object, ${quoteLiteral(acting)}) FROM (${MAINTAINED(list, `to_regrole(${quoteLiteral(quoteIdent(acting))})`, partmanSchema)}) m\n` +
      `    WHERE NOT m.mine LOOP EXECUTE s; END LOOP;\n` +
      `  ALTER SCHEMA ${quoteIdent(MAINTENANCE_SCHEMA)} OWNER TO ${quoteIdent(acting)};\n` +
      `END $$;`,
    { join: ". " },
  );
}
