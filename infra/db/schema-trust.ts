// partman-stack's own schemas (partman_stack, partman_migrate) hold what runs as the owner every
// hour and as an administrator on every apply, so they are used only while they are the acting
// role's alone: it owns the schema and everything in it, nobody else may create objects in it or
// write to its tables. Another role that got there first (it had CREATE on the database), or was
// let in later, could otherwise replace a routine before the next run calls it.

import type { Client } from "pg";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import { PartmanStackError } from "../config/errors";

export interface SchemaProblem {
  problem: string;
  /** What it is about: `schema partman_stack`, `function partman_stack.expire(…)`, `table …`. */
  object: string;
  /** owner: an object (or the schema) owned by another role; grant: a privilege another role holds. */
  kind: "owner" | "grant";
  /** The other role, or PUBLIC. */
  role: string;
  /** It is the connecting user or a superuser: a trusted role that made the objects before the
   *  owner role existed, whose objects can be handed over (see ownership.ts). */
  trusted: boolean;
}

/** Why `schema` is not the acting role's (current_user's) alone, one row each (SchemaProblem's
 *  columns); no rows when it is, or does not exist. `memberOwners`: objects may also belong to roles
 *  the acting role is a member of (a migration's copy belongs to the live table's owner). Takes no
 *  parameters, so it also runs inside the install's DO block. */
export function schemaProblemsSql(schema: string, memberOwners = false): string {
  const ns = `(SELECT oid FROM pg_namespace WHERE nspname = ${quoteLiteral(schema)})`;
  const foreign = (owner: string) => (memberOwners ? `NOT pg_has_role(${owner}, 'USAGE')` : `${owner} <> (SELECT oid FROM pg_roles WHERE rolname = current_user)`);
  const who = (role: string) => `CASE ${role} WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(${role})::text END`;
  return `
  WITH objects (kind, object, owner) AS (
    SELECT 'schema', quote_ident(nspname), nspowner FROM pg_namespace WHERE oid = ${ns}
    UNION ALL SELECT CASE WHEN relkind IN ('v', 'm') THEN 'view' WHEN relkind = 'S' THEN 'sequence' ELSE 'table' END, oid::regclass::text, relowner
      FROM pg_class WHERE relnamespace = ${ns} AND relkind NOT IN ('i', 'I')
    UNION ALL SELECT CASE prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, oid::regprocedure::text, proowner FROM pg_proc WHERE pronamespace = ${ns}
    UNION ALL SELECT 'type', oid::regtype::text, typowner FROM pg_type WHERE typnamespace = ${ns} AND typrelid = 0 AND typelem = 0
    UNION ALL SELECT 'operator', oid::regoperator::text, oprowner FROM pg_operator WHERE oprnamespace = ${ns}
    UNION ALL SELECT 'collation', quote_ident(collname), collowner FROM pg_collation WHERE collnamespace = ${ns}
    UNION ALL SELECT 'conversion', quote_ident(conname), conowner FROM pg_conversion WHERE connamespace = ${ns}
    UNION ALL SELECT 'operator class', quote_ident(opcname), opcowner FROM pg_opclass WHERE opcnamespace = ${ns}
    UNION ALL SELECT 'operator family', quote_ident(opfname), opfowner FROM pg_opfamily WHERE opfnamespace = ${ns}
    UNION ALL SELECT 'statistics object', quote_ident(stxname), stxowner FROM pg_statistic_ext WHERE stxnamespace = ${ns}
    UNION ALL SELECT 'text search configuration', quote_ident(cfgname), cfgowner FROM pg_ts_config WHERE cfgnamespace = ${ns}
    UNION ALL SELECT 'text search dictionary', quote_ident(dictname), dictowner FROM pg_ts_dict WHERE dictnamespace = ${ns}),
  grants (object, grantee, privilege) AS (
    SELECT 'schema ' || quote_ident(nspname), a.grantee, a.privilege_type FROM pg_namespace, aclexplode(nspacl) a
     WHERE oid = ${ns} AND a.privilege_type = 'CREATE' AND a.grantee <> nspowner
    UNION ALL SELECT 'table ' || c.oid::regclass::text, a.grantee, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = ${ns} AND a.privilege_type NOT IN ('SELECT') AND a.grantee <> c.relowner)
  SELECT problem, object, kind, role, trusted FROM (
    SELECT format('%s %s is owned by %s', kind, object, pg_get_userbyid(owner)) AS problem, kind || ' ' || object AS object, 'owner' AS kind, pg_get_userbyid(owner)::text AS role,
           (owner = (SELECT oid FROM pg_roles WHERE rolname = session_user) OR (SELECT rolsuper FROM pg_roles WHERE oid = owner)) AS trusted,
           kind <> 'schema' AS later
      FROM objects WHERE ${foreign("owner")}
    UNION ALL
    SELECT format('%s holds %s on %s', ${who("grantee")}, privilege, object), object, 'grant', ${who("grantee")}, false, true
      FROM grants WHERE grantee = 0 OR ${foreign("grantee")}) p
   ORDER BY kind DESC, later, problem`;
}

/** The same check as one statement, for inside a transaction that creates objects in the schema:
 *  raises, naming the problems, unless it is the acting role's alone. Run after something only
 *  its owner may do has locked it (COMMENT ON SCHEMA), so nothing changes between check and use. */
export function assertTrustedSchemaSql(schema: string, memberOwners = false): string {
  return (
    `DO $$ DECLARE v_problems text; BEGIN\n` +
    `  SELECT string_agg(problem, '; ') INTO v_problems FROM (${schemaProblemsSql(schema, memberOwners)}) p;\n` +
    `  IF v_problems IS NOT NULL THEN RAISE EXCEPTION 'schema % is not %''s alone (%): partman-stack will not use it', ${quoteLiteral(schema)}, current_user, v_problems; END IF;\n` +
    `END $$;`
  );
}

export async function schemaProblems(db: Client, schema: string, memberOwners = false): Promise<SchemaProblem[]> {
  return (await db.query<SchemaProblem>(schemaProblemsSql(schema, memberOwners))).rows;
}

export class UntrustedSchema extends PartmanStackError {}

/** The refusal for problems that are not a trusted role's earlier install: nothing is read from the
 *  schema or run in it, and the message says what to look at and how to start afresh. */
export function untrustedSchema(schema: string, acting: string, problems: SchemaProblem[]): UntrustedSchema {
  const shown = problems.slice(0, 6).map((p) => p.problem).join("; ") + (problems.length > 6 ? `; and ${problems.length - 6} more` : "");
  const grants = problems.filter((p) => p.kind === "grant");
  const fix = grants.length === problems.length
    ? `revoke them (${[...new Set(grants.map((g) => `REVOKE ALL ON ${g.object} FROM ${g.role === "PUBLIC" ? "PUBLIC" : quoteIdent(g.role)}`))].join("; ")}), then run again`
    : `check what is in it (another role may have replaced what partman-stack would run), then, as a superuser, DROP SCHEMA ${quoteIdent(schema)} CASCADE ` +
      `(or rename it) and run again: partman-stack recreates it owned by ${acting}`;
  return new UntrustedSchema(
    `schema ${schema} is not ${acting}'s alone (${shown}), so partman-stack will not use it: what it holds runs as the owner in every maintenance run and as an administrator in every apply. Nothing was changed`,
    `${fix[0].toUpperCase()}${fix.slice(1)}`,
    { join: ". " },
  );
}

/** Refuses `schema` unless it is the acting role's alone (or does not exist yet). */
export async function requireTrustedSchema(db: Client, schema: string, memberOwners = false): Promise<void> {
  const problems = await schemaProblems(db, schema, memberOwners);
  if (problems.length === 0) return;
  const acting = (await db.query<{ u: string }>("SELECT current_user AS u")).rows[0].u;
  throw untrustedSchema(schema, acting, problems);
}
