// The pg_partman extension itself: where it is installed, creating it, updating it in place between
// releases of one major (with what the update changes in its config tables), and whether its schema
// is safe to run it from.

import type { Client } from "pg";
import { quoteIdent, quoteLiteral } from "../config/identifiers";
import { crossesCodecQuoting, storedCodecName } from "./codecs";
import { partmanConfigTables, type PartConfigRow } from "./config";
import { partmanInstall, type PartmanInstall } from "./version";

/** The schema partman-stack creates the extension in (and the Pulumi program grants on) when it is
 *  not installed yet; an installed one's schema is PartmanInstall.schema. */
export const PARTMAN_SCHEMA = "partman";

/** The installed pg_partman: its version and schema; null when the extension is not created. */
export async function installedPartman(db: Client): Promise<PartmanInstall | null> {
  const r = await db.query<{ extversion: string; nspname: string }>(
    `SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'`,
  );
  return r.rows[0] ? partmanInstall(r.rows[0].extversion, r.rows[0].nspname) : null;
}

/** Two first applies at once: the second waits for the first's commit, then finds what it made. */
export function createExtensionSql(schema: string, version: string | null): string[] {
  const once = (statement: string) => `DO $$ BEGIN ${statement}; EXCEPTION WHEN unique_violation THEN NULL; END $$;`;
  return [
    once(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`),
    once(`CREATE EXTENSION IF NOT EXISTS pg_partman WITH SCHEMA ${quoteIdent(schema)}${version ? ` VERSION ${quoteLiteral(version)}` : ""}`),
  ];
}

/** The in-place update between two releases of one major (pg_partman ships the update scripts).
 *  Crossing 5.5, the codec names given to earlier releases quoted (timeCodecNames) are stored
 *  unquoted, as 5.5 quotes each part itself: left quoted, it would quote the quotes. */
export function updateExtensionSql(from: PartmanInstall, to: PartmanInstall): string[] {
  const sql = [`ALTER EXTENSION pg_partman UPDATE TO ${quoteLiteral(to.version)};`];
  if (crossesCodecQuoting(from, to)) {
    const [config, sub] = partmanConfigTables(from);
    const unquote = (col: string) => `${col} = replace(${col}, '"', '')`;
    sql.push(
      `UPDATE ${config} SET ${unquote("time_encoder")}, ${unquote("time_decoder")} WHERE strpos(time_encoder, '"') > 0 OR strpos(time_decoder, '"') > 0;`,
      `UPDATE ${sub} SET ${unquote("sub_time_encoder")}, ${unquote("sub_time_decoder")} WHERE strpos(sub_time_encoder, '"') > 0 OR strpos(sub_time_decoder, '"') > 0;`,
    );
  }
  return sql;
}

/** A set as introspect reads it, as far as its config rows go (engine/introspect's TableState). */
interface ConfiguredSet<T> {
  partConfig: PartConfigRow | null;
  subConfig: PartConfigRow | null;
  subParents: T[];
}

/** A set's state as updateExtensionSql leaves it, for planning its steps after the update. */
export function tableAfterUpdate<T extends ConfiguredSet<T>>(from: PartmanInstall, to: PartmanInstall, ts: T): T {
  if (!crossesCodecQuoting(from, to)) return ts;
  const unquote = (n: string | null) => n && storedCodecName(to, n);
  const config = (row: PartConfigRow | null) => row && { ...row, time_encoder: unquote(row.time_encoder), time_decoder: unquote(row.time_decoder) };
  return { ...ts, partConfig: config(ts.partConfig), subConfig: config(ts.subConfig), subParents: ts.subParents.map((sub) => tableAfterUpdate(from, to, sub)) };
}

/** What makes pg_partman's schema unsafe to run pg_partman from: its functions resolve names there
 *  first (4.x and 5.2 put their schema at the front of the search_path), so a function or operator
 *  in it that is not pg_partman's own could stand in for a built-in; and PUBLIC may not create any. */
export async function partmanSchemaProblems(db: Client): Promise<string[]> {
  const r = await db.query<{ problem: string }>(`
    WITH ns AS (SELECT n.oid, n.nspname, n.nspacl FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman')
    SELECT format('PUBLIC holds CREATE on schema %I', ns.nspname) AS problem FROM ns, aclexplode(ns.nspacl) a WHERE a.privilege_type = 'CREATE' AND a.grantee = 0
    UNION ALL
    SELECT format('%s %s (owned by %s) is not pg_partman''s', o.kind, o.object, pg_get_userbyid(o.owner))
      FROM (SELECT 'function' AS kind, p.oid::regprocedure::text AS object, p.proowner AS owner, 'pg_proc'::regclass AS classid, p.oid FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
            UNION ALL SELECT 'operator', o.oid::regoperator::text, o.oprowner, 'pg_operator'::regclass, o.oid FROM pg_operator o, ns WHERE o.oprnamespace = ns.oid) o
     WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.oid AND d.deptype = 'e')
     ORDER BY 1`);
  return r.rows.map((x) => x.problem);
}
