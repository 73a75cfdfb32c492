// How pg_partman names the tables it makes for a set: its partitions (`<table>_p<suffix>`, the
// suffix per major), the default partition and the template table. Validation checks these names
// fit before any connection, so this file sits on config's floor (see
// test/unit/module-floors.test.ts) and imports only from config/.

import { approxMillis, parseInterval, type Interval } from "../config/interval";
import type { SetShape } from "../config/types";
import { versionParts } from "./version";

/** The majors whose naming differs. */
export type NamingMajor = 4 | 5;

/** The suffix pg_partman gives a time partition (to_char of its start), per major, by the partition
 *  interval: the first row whose interval it reaches, compared as PostgreSQL compares intervals (a
 *  month as 30 days, so "360 days" is named as a year). Years have four digits: validation keeps
 *  partitions within 1900-9999. partman-stack passes intervals as values ("1 week"), never 4.x's named
 *  ones, so 4.x's weekly (2026w48) and quarterly (2026q1) forms never arise. */
const TIME_SUFFIXES: Record<NamingMajor, [from: Interval | null, suffix: string][]> = {
  4: [[parseInterval("1 year"), "_p2026"], [parseInterval("1 month"), "_p2026_07"], [parseInterval("1 day"), "_p2026_07_01"], [parseInterval("1 minute"), "_p2026_07_01_0000"], [null, "_p2026_07_01_000000"]],
  5: [[parseInterval("1 day"), "_p20260701"], [null, "_p20260701_000000"]],
};

/** The majors a stack's names are checked against: the declared one (later majors name as 5.x), or
 *  every supported one when the stack declares none. */
export function namingMajors(partmanVersion: string | null): NamingMajor[] {
  if (partmanVersion === null) return [4, 5];
  return [versionParts(partmanVersion)[0] >= 5 ? 5 : 4];
}

export function defaultPartitionName(table: string): string {
  return `${table}_default`;
}

/** pg_partman's template table (in its own schema) when create_parent is given none. */
export function templateTableName(schema: string, table: string): string {
  return `template_${schema}_${table}`;
}

/** What every partition name of `table` starts with. */
export function childNamePrefix(table: string): string {
  return `${table}_p`;
}

/** The rest of a partition's name after childNamePrefix, as a POSIX regular expression for SQL's
 *  `~`: digits and underscores (a day, month, first id or value; 4.x also `2026w48` weeks and
 *  `2026q1` quarters), so a table such as `events_pending` is never taken for a partition. */
export const CHILD_SUFFIX_PATTERN = "^[0-9][0-9_]*([wq][0-9]+)?$";

function timeSuffix(major: NamingMajor, interval: Interval): string {
  return TIME_SUFFIXES[major].find(([from]) => from === null || approxMillis(interval) >= approxMillis(from))![1];
}

/** The longest name pg_partman gives a partition of `table` at a level: a time partition's, or the
 *  prefix and the largest first id reachable (the last range starting at or below the column's
 *  largest value, `max`; on a list set that value). Ids below 0 are not counted: pg_partman makes
 *  partitions from 0 up. */
export function longestPartitionName(major: NamingMajor, table: string, s: SetShape, max: bigint): string {
  if (s.kind === "time") return `${table}${timeSuffix(major, s.interval)}`;
  const width = BigInt(s.interval.ids);
  return `${childNamePrefix(table)}${s.type === "list" ? max : max - (max % width)}`;
}
