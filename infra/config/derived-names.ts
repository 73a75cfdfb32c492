// The names partman-stack and pg_partman derive from a declared table's name, and the rule that each
// fits in NAMEDATALEN - 1 bytes. PostgreSQL truncates a longer name without an error, so SQL naming
// one reaches whatever the truncated name is: on pg_partman 4.x a 63-byte table's
// `DROP TABLE "<table>_default"` dropped the table itself. pg_partman's check_name_length shortens
// the table's part of the names it makes instead, and partman-stack (archive, verify, migrate) would
// no longer recognise them. Checked in validation and by migrate, before any SQL.
// Partitions retention moves to a retentionSchema keep their names: the partitions' check covers them.

import { MAX_NAME_BYTES } from "./identifiers";
import { approxMillis, parseInterval } from "./interval";
import { defaultPartitionName, longestPartitionName, namingMajors, templateTableName, type NamingMajor } from "../partman/child-names";
import type { SetShape, TableSpec } from "./types";

/** The schema a migration builds its partitioned copy in (under the table's own name, so pg_partman
 *  names its partitions as it will after the swap) and keeps its state and helpers in. */
export const STAGING = "partman_migrate";

/** The names of a migration's helper objects, unquoted: its change logs, capture functions and
 *  retired table (migrate/names.ts' MigrationNames, in the order changes, reverseChanges, capture,
 *  reverseCapture, retiredName). */
export function migrationHelperNames(table: string): [string, string, string, string, string] {
  return [`${table}_changes`, `${table}_changes_reverse`, `${table}_capture`, `${table}_capture_reverse`, `${table}_retired`];
}

const DAY = parseInterval("1 day");

interface DerivedName {
  name: string;
  what: string;
}

/** The largest value each level's integer control column holds (bigint's when its type is not known). */
interface IdMax {
  set: bigint;
  sub: bigint;
}

/** Every name a set's creation and maintenance derive from its table's, per major: its partitions,
 *  default partition and template table, and each sub-parent's sub-partitions and default partition
 *  (sub-parents share the set's template table). 4.x makes a default partition also when none is
 *  declared (the plan drops it again), and a default may be added later: always counted. */
function setNames(t: Pick<TableSpec, "schema" | "table">, set: SetShape, sub: SetShape | null, majors: NamingMajor[], max: IdMax): DerivedName[] {
  const names: DerivedName[] = [
    { name: defaultPartitionName(t.table), what: "default partition" },
    { name: templateTableName(t.schema, t.table), what: "pg_partman's template table" },
  ];
  for (const major of majors) {
    const partition = longestPartitionName(major, t.table, set, max.set);
    names.push({ name: partition, what: `pg_partman ${major}.x's partition` });
    if (sub) {
      names.push(
        { name: longestPartitionName(major, partition, sub, max.sub), what: `pg_partman ${major}.x's sub-partition` },
        { name: defaultPartitionName(partition), what: `pg_partman ${major}.x's default partition of a sub-parent` },
      );
    }
  }
  return names;
}

/** What a migration names after the table: its change logs, capture functions and retired table,
 *  and the template of the partitioned copy pg_partman registers in the staging schema. */
function migrationNames(t: Pick<TableSpec, "table">): DerivedName[] {
  return [
    ...migrationHelperNames(t.table).map((name) => ({ name, what: "migration's helper object" })),
    { name: templateTableName(STAGING, t.table), what: "pg_partman's template table of the migration's copy" },
  ];
}

/** Why a declared set's derived names do not fit, or null. `partmanVersion`: the stack's, or null
 *  (then every supported major's names are checked). A wider interval is offered as the fix when the
 *  names fit with daily partitions instead of shorter ones. */
export function derivedNameProblem(t: TableSpec, partmanVersion: string | null, max: IdMax): string | null {
  const majors = namingMajors(partmanVersion);
  const subDaily = (s: SetShape | null) => s?.kind === "time" && approxMillis(s.interval) < approxMillis(DAY);
  const daily = (s: SetShape): SetShape => (s.kind === "time" && subDaily(s) ? { ...s, interval: DAY } : s);
  const keys = [...(subDaily(t) ? ["interval"] : []), ...(subDaily(t.subpartition) ? ["subpartition.interval"] : [])];
  const wider =
    keys.length > 0 && longest(setNames(t, daily(t), t.subpartition && daily(t.subpartition), majors, max)).bytes <= MAX_NAME_BYTES
      ? `, or ${keys.join(" and ")} of at least 1 day (partitions then take a shorter, daily suffix)`
      : "";
  const checked = partmanVersion ? `pg_partman ${partmanVersion}, the stack's partmanVersion` : `pg_partman 4.x and 5.x: the stack declares no partmanVersion`;
  return tooLong(t, setNames(t, t, t.subpartition, majors, max), `checked against ${checked}`, wider);
}

/** Why the names a migration of `t` would make do not fit, or null. */
export function migrationNameProblem(t: Pick<TableSpec, "name" | "table">): string | null {
  return tooLong(t, migrationNames(t), "needed by migrate", "");
}

function longest(names: DerivedName[]): DerivedName & { bytes: number } {
  return names.map((n) => ({ ...n, bytes: Buffer.byteLength(n.name) })).reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

function tooLong(t: Pick<TableSpec, "name" | "table">, names: DerivedName[], checked: string, wider: string): string | null {
  const top = longest(names);
  if (top.bytes <= MAX_NAME_BYTES) return null;
  const fits = Buffer.byteLength(t.table) - (top.bytes - MAX_NAME_BYTES);
  return (
    `name "${t.name}": the longest name derived from it, ${top.what} ${top.name}, is ${top.bytes} bytes, more than PostgreSQL's ${MAX_NAME_BYTES} ` +
    `(NAMEDATALEN - 1: a longer name is truncated without an error, so SQL naming it would reach another table; ${checked}); ` +
    `declare a table name of at most ${fits} bytes${wider}`
  );
}
