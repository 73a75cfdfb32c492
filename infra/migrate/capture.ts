// Change capture: a row trigger on the live table logs the (key, control value) of every row an
// INSERT, UPDATE or DELETE touches; replay re-syncs exactly those rows from the live table into
// the copy. Replaying reads the live row as it is now, so the order of changes does not matter and
// a replay interrupted at any point can run again.

import { quoteIdent as q } from "../config/identifiers";
import { SAFE_SEARCH_PATH } from "../db/session";

export interface CaptureTarget {
  /** The change-log table, qualified. */
  log: string;
  /** Schema and name of the trigger functions (`<fn>` and `<fn>_truncate`). */
  fnSchema: string;
  fn: string;
  /** The table whose writes are captured. */
  on: string;
  trigger: string;
}

export interface KeyShape {
  keyColumns: string[];
  keyTypes: string[];
  control: string;
  controlType: string;
}

/** The logged columns: the key, and the control value unless the key holds it. */
const cols = (k: KeyShape) => [...new Set([...k.keyColumns, k.control])];

const fnName = (t: CaptureTarget, suffix = "") => `${q(t.fnSchema)}.${q(t.fn + suffix)}`;

export function createCaptureSql(t: CaptureTarget, k: KeyShape): string[] {
  const defs = [
    ...k.keyColumns.map((c, i) => `${q(c)} ${k.keyTypes[i]} NOT NULL`),
    ...(k.keyColumns.includes(k.control) ? [] : [`${q(k.control)} ${k.controlType}`]),
  ];
  const list = cols(k).map(q).join(", ");
  const old = cols(k).map((c) => `OLD.${q(c)}`).join(", ");
  const neu = cols(k).map((c) => `NEW.${q(c)}`).join(", ");
  return [
    `CREATE TABLE ${t.log} (seq bigserial PRIMARY KEY, ${defs.join(", ")});`,
    // It runs in every writer's session, as their role and under their search_path: as its owner
    // instead (writers need no privileges on the change log), resolving names in pg_catalog only.
    `CREATE FUNCTION ${fnName(t)}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${SAFE_SEARCH_PATH} AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO ${t.log} (${list}) VALUES (${old});
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (${neu}) IS DISTINCT FROM (${old})) THEN
    INSERT INTO ${t.log} (${list}) VALUES (${neu});
  END IF;
  RETURN NULL;
END
$fn$;`,
    `CREATE FUNCTION ${fnName(t, "_truncate")}() RETURNS trigger LANGUAGE plpgsql SET search_path = ${SAFE_SEARCH_PATH} AS $fn$
BEGIN
  RAISE EXCEPTION 'TRUNCATE of % is blocked while partman-stack migrates it: finish or roll back the migration first', TG_TABLE_NAME;
END
$fn$;`,
    `REVOKE ALL ON FUNCTION ${fnName(t)}(), ${fnName(t, "_truncate")}() FROM PUBLIC;`,
    `CREATE TRIGGER ${q(t.trigger)} AFTER INSERT OR UPDATE OR DELETE ON ${t.on} FOR EACH ROW EXECUTE FUNCTION ${fnName(t)}();`,
    `CREATE TRIGGER ${q(`${t.trigger}_truncate`)} BEFORE TRUNCATE ON ${t.on} FOR EACH STATEMENT EXECUTE FUNCTION ${fnName(t, "_truncate")}();`,
  ];
}

export function dropCaptureSql(t: CaptureTarget): string[] {
  return [
    `DROP TRIGGER IF EXISTS ${q(t.trigger)} ON ${t.on};`,
    `DROP TRIGGER IF EXISTS ${q(`${t.trigger}_truncate`)} ON ${t.on};`,
    `DROP FUNCTION IF EXISTS ${fnName(t)}();`,
    `DROP FUNCTION IF EXISTS ${fnName(t, "_truncate")}();`,
    `DROP TABLE IF EXISTS ${t.log};`,
  ];
}

export interface ReplaySql {
  /** The newest change this replay covers; $1 = how many changes at most. */
  bound: string;
  /** Delete the copy's rows for the logged keys; $1 = bound. */
  remove: string;
  /** Re-insert them from the live table as they are now; $1 = bound. */
  insert: string;
  /** Forget the replayed changes; $1 = bound. */
  forget: string;
}

/** Re-syncs `to` from `from` for the changes logged in `log`. With `watermark`, changes to keys past
 *  it are forgotten unreplayed: the copy has not reached them and will read them as they are.
 *  Run all four in one REPEATABLE READ transaction, so changes committed meanwhile wait for the next. */
export function replaySql(log: string, from: string, to: string, k: KeyShape, copyColumns: string[], watermark: string[] | null): ReplaySql {
  const key = `(${k.keyColumns.map(q).join(", ")})`;
  const past = watermark ? ` AND ${key} <= (${k.keyColumns.map((_, i) => `($2::text[])[${i + 1}]::${k.keyTypes[i]}`).join(", ")})` : "";
  const pairs = `SELECT DISTINCT ${cols(k).map(q).join(", ")} FROM ${log} WHERE seq <= $1${past}`;
  const match = (a: string, b: string) => cols(k).map((c) => `${a}.${q(c)} = ${b}.${q(c)}`).join(" AND ");
  const list = copyColumns.map(q).join(", ");
  return {
    bound: `SELECT max(seq) AS bound FROM (SELECT seq FROM ${log} ORDER BY seq LIMIT $1) s`,
    remove: `DELETE FROM ${to} t USING (${pairs}) p WHERE ${match("t", "p")}`,
    // LATERAL: one index lookup per logged key, never a scan of the whole live table.
    insert: `INSERT INTO ${to} (${list}) OVERRIDING SYSTEM VALUE SELECT ${copyColumns.map((c) => `s.${q(c)}`).join(", ")} FROM (${pairs}) p CROSS JOIN LATERAL (SELECT * FROM ${from} s WHERE ${match("s", "p")}) s`,
    forget: `DELETE FROM ${log} WHERE seq <= $1`,
  };
}

/** One copy batch: the next `$1` rows in key order, after the watermark `$2` (the last key copied,
 *  as text) when there is one. Returns how many were copied and the last key, as text. */
export function copyBatchSql(from: string, to: string, k: KeyShape, copyColumns: string[], afterWatermark: boolean): string {
  const key = k.keyColumns.map(q).join(", ");
  const after = `WHERE (${key}) > (${k.keyColumns.map((_, i) => `($2::text[])[${i + 1}]::${k.keyTypes[i]}`).join(", ")}) `;
  const list = copyColumns.map(q).join(", ");
  return `WITH batch AS MATERIALIZED (
  SELECT ${list} FROM ${from} ${afterWatermark ? after : ""}ORDER BY ${key} LIMIT $1
), copied AS (
  INSERT INTO ${to} (${list}) OVERRIDING SYSTEM VALUE SELECT ${list} FROM batch RETURNING 1
)
SELECT (SELECT count(*) FROM copied)::int AS copied,
       (SELECT ARRAY[${k.keyColumns.map((c) => `${q(c)}::text`).join(", ")}] FROM batch ORDER BY ${k.keyColumns.map((c) => `${q(c)} DESC`).join(", ")} LIMIT 1) AS last`;
}
