// A partition set's width and retention in its control column's terms: a PostgreSQL interval on a
// time column, a count of ids on an integer one. part_config stores either as text.

import { sameInterval, tryParseInterval, type Interval } from "./interval";

/** A number of ids: an integer-range set's interval (ids per partition) or retention. */
export interface IdCount {
  ids: number;
  /** As part_config and partman_stack.retention store it: the digits. */
  text: string;
}

export type Span = Interval | IdCount;

export function isIdCount(s: Span | null): s is IdCount {
  return s !== null && "ids" in s;
}

/** Whole numbers as written in a stack file (a YAML number, or digits: `pulumi config set --path`
 *  stores text); null for anything else. */
export function parseIdCount(v: unknown): IdCount | null {
  const n = typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) return null;
  return { ids: n, text: String(n) };
}

/** A whole number past Number.MAX_SAFE_INTEGER, which parseIdCount (a JavaScript number) cannot
 *  hold exactly: refused with its own message rather than as "not a whole number". */
export function unsafeWholeNumber(v: unknown): boolean {
  const n = typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) && n > Number.MAX_SAFE_INTEGER;
}

/** Equal in meaning, as stored text: "1 mon" is "1 month", "100000" is 100000. */
export function sameSpan(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  const [ia, ib] = [parseIdCount(a), parseIdCount(b)];
  if (ia || ib) return ia !== null && ib !== null && ia.ids === ib.ids;
  return sameInterval(tryParseInterval(a), tryParseInterval(b));
}

/** Units of an epoch control column (pg_partman's p_epoch), with how many make a second. */
export const EPOCH_UNITS = { seconds: 1, milliseconds: 1e3, microseconds: 1e6, nanoseconds: 1e9 } as const;
export type EpochUnit = keyof typeof EPOCH_UNITS;

export function isEpochUnit(v: unknown): v is EpochUnit {
  return typeof v === "string" && Object.keys(EPOCH_UNITS).includes(v);
}

/** A time as an epoch control column stores it (exact, also for nanoseconds past 2^53). */
export function epochValue(iso: string, unit: EpochUnit): string {
  return String((BigInt(Date.parse(iso)) * BigInt(EPOCH_UNITS[unit])) / 1000n);
}
