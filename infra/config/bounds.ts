// Bounds on a declaration's magnitudes, checked before any SQL: how many partitions one transaction
// may create, how wide a partition and how long a retention may be, where partitions may start.
// Past them PostgreSQL or pg_partman fails only after a long run, or never (a retention that
// overflows now() - retention fails every maintenance run).

import { approxMillis, parseInterval, shiftTime, type Interval } from "./interval";
import type { SetShape, SubpartitionSpec } from "./types";

/** pg_partman makes partitions in one transaction (maintenance its premake, create_parent those
 *  from startPartition on, create_sub_parent every partition's sub-partitions), each a table with
 *  its indexes locked until it commits: thousands at once exhaust the server's lock table ("out of
 *  shared memory"). */
export const MAX_PARTITIONS_AT_ONCE = 1000;

/** pg_partman 4.7.2 and 5.2.4 refuse intervals under a second (create_parent, create_sub_parent). */
const MIN_INTERVAL = parseInterval("1 second");
const MAX_INTERVAL = parseInterval("100 years");
/** Maintenance computes now() - retention, and PostgreSQL's timestamps begin in 4713 BC. */
const MAX_RETENTION = parseInterval("5000 years");
/** pg_partman names time partitions by four-digit years (YYYY), and history before 1900 is not
 *  what a partition set starts from. */
const EARLIEST = Date.UTC(1900, 0, 1);
const END = Date.UTC(10000, 0, 1);

/** Why a time set's interval (or a sub-partition's) cannot be a partition interval, or null. */
export function partitionIntervalProblem(key: string, i: Interval): string | null {
  if (approxMillis(i) < approxMillis(MIN_INTERVAL)) return `${key} "${i.text}" is shorter than 1 second, pg_partman's shortest partition interval; declare at least "1 second"`;
  if (approxMillis(i) > approxMillis(MAX_INTERVAL)) return `${key} "${i.text}" is longer than 100 years, the widest partition partman-stack makes; declare at most "100 years"`;
  return null;
}

export function retentionProblem(key: string, i: Interval): string | null {
  if (approxMillis(i) <= approxMillis(MAX_RETENTION)) return null;
  return `${key} "${i.text}" is longer than 5000 years: maintenance computes now() - ${key}, and PostgreSQL's timestamps begin in 4713 BC; to keep every partition, remove ${key}`;
}

/** `n` times `i`, as PostgreSQL multiplies an interval by an integer: each field. */
function times(i: Interval, n: number): Interval {
  return { text: `${n} × ${i.text}`, months: i.months * n, days: i.days * n, microseconds: i.microseconds * n };
}

/** How many partitions create_parent makes from `start`: start, start + interval, … while before
 *  now + premake intervals; counted up to `cap` + 1. From start as written: pg_partman first
 *  truncates it to the interval's unit (a day, a month, …), which can add one. */
function partitionsFrom(start: Date, now: Date, i: Interval, premake: number, cap: number): number {
  const end = shiftTime(now, times(i, premake), 1);
  let n = 0;
  while (n <= cap && shiftTime(start, times(i, n), 1) < end) n++;
  return n;
}

/** Why a time set's startPartition, premake and interval cannot be created as declared, or null.
 *  `now` is this machine's clock: the server's is not known before connecting, and a skew between
 *  them moves the count by a partition at most. */
export function timeRangeProblem(t: { interval: Interval; premake: number; startPartition: string | null }, now: Date): string | null {
  const { interval: i, premake } = t;
  const last = shiftTime(now, times(i, premake), 1);
  if (last.getTime() >= END) {
    return `premake ${premake} of interval "${i.text}" reaches ${last.getUTCFullYear()}: partitions are named by four-digit years, so they must end by 9999-12-31; declare a smaller premake, or a narrower interval`;
  }
  if (t.startPartition === null) return null;
  const start = new Date(t.startPartition);
  if (start.getTime() < EARLIEST || start.getTime() >= END) {
    return `startPartition "${t.startPartition}" must be from 1900-01-01 to 9999-12-31: partitions are named by four-digit years, and a set's history begins at most in 1900`;
  }
  if (partitionsFrom(start, now, i, premake, MAX_PARTITIONS_AT_ONCE) <= MAX_PARTITIONS_AT_ONCE) return null;
  const about = Math.ceil((last.getTime() - start.getTime()) / approxMillis(i));
  const earliest = shiftTime(now, times(i, MAX_PARTITIONS_AT_ONCE - premake), -1);
  const sub = approxMillis(i) < 86_400_000;
  const unit = sub ? 60_000 : 86_400_000;
  const later = new Date(Math.ceil(earliest.getTime() / unit) * unit).toISOString();
  return (
    `startPartition "${t.startPartition}" has create_parent make about ${about} partitions of "${i.text}" at once (from it up to now plus premake ${premake}), ` +
    `more than ${MAX_PARTITIONS_AT_ONCE}: it makes them in one transaction, each a table locked until it commits, and thousands exhaust the server's lock table; ` +
    `start at "${sub ? `${later.slice(0, 16)}:00Z` : later.slice(0, 10)}" or later, or declare a wider interval`
  );
}

/** How many partitions create_parent makes for a new set: a time set's from startPartition (or
 *  premake intervals before now) to premake intervals past now; an id set's premake + 1 from
 *  startPartition (or 0: it is empty), as pg_partman 4.7.2 and 5.2.4 take p_start_partition. */
function partitionsAtCreation(t: SetShape & { premake: number; startPartition: string | null }, now: Date): number {
  if (t.kind === "id") return t.premake + 1;
  const start = t.startPartition === null ? shiftTime(now, times(t.interval, t.premake), -1) : new Date(t.startPartition);
  return partitionsFrom(start, now, t.interval, t.premake, 2 * MAX_PARTITIONS_AT_ONCE + 1);
}

/** Why create_sub_parent would make too many sub-partitions at once, or null. Each partition's
 *  create_parent makes the sub-partitions within its bounds: by time those premake sub-intervals
 *  either side of now (2 × premake + 1), by ids premake + 1 from the partition's first (nothing is
 *  written yet). Inside partitions of the same kind only those around now or the first id fall in
 *  one partition, the others get one each; inside partitions of the other kind, every partition
 *  gets them all. */
export function subpartitionCountProblem(t: SetShape & { premake: number; startPartition: string | null }, sub: SubpartitionSpec, now: Date): string | null {
  const partitions = partitionsAtCreation(t, now);
  const each = sub.kind === "time" ? 2 * sub.premake + 1 : sub.premake + 1;
  const total = sub.kind === t.kind ? partitions + each : partitions * each;
  if (total <= MAX_PARTITIONS_AT_ONCE) return null;
  return (
    `subpartition.premake ${sub.premake} has create_sub_parent make about ${total} sub-partitions at once (${partitions} partitions, ` +
    `${sub.kind === t.kind ? `one in each and ${each} around ${sub.kind === "time" ? "now" : "the first id"}` : `${each} in each`}), more than ${MAX_PARTITIONS_AT_ONCE}: ` +
    `it makes them in one transaction, each a table locked until it commits; declare a smaller subpartition.premake or premake, a later startPartition, or a wider interval`
  );
}
