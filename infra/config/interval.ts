// PostgreSQL interval values, parsed without a database so a stack is checked before any SQL
// runs, and compared by meaning: part_config stores the text it was given ("1 day", "1 mon", …).
import { PartmanStackError } from "./errors";

export interface Interval {
  /** The value as written, whitespace collapsed. */
  text: string;
  months: number;
  days: number;
  microseconds: number;
}

const UNITS: Record<string, { months?: number; days?: number; us?: number }> = {};
function unit(names: string[], value: { months?: number; days?: number; us?: number }) {
  for (const n of names) UNITS[n] = value;
}
unit(["microsecond", "microseconds", "us", "usec", "usecs"], { us: 1 });
unit(["millisecond", "milliseconds", "ms", "msec", "msecs"], { us: 1_000 });
unit(["second", "seconds", "s", "sec", "secs"], { us: 1_000_000 });
unit(["minute", "minutes", "m", "min", "mins"], { us: 60_000_000 });
unit(["hour", "hours", "h", "hr", "hrs"], { us: 3_600_000_000 });
unit(["day", "days", "d"], { days: 1 });
unit(["week", "weeks", "w"], { days: 7 });
unit(["month", "months", "mon", "mons"], { months: 1 });
unit(["year", "years", "y", "yr", "yrs"], { months: 12 });
unit(["decade", "decades"], { months: 120 });
unit(["century", "centuries"], { months: 1200 });
unit(["millennium", "millennia"], { months: 12000 });

export class IntervalSyntaxError extends PartmanStackError {}

/** What a PostgreSQL interval holds: months and days are int32; its time (int64 microseconds) is
 *  kept here exactly only up to Number.MAX_SAFE_INTEGER microseconds, about 285 years. */
const MAX_MONTHS_OR_DAYS = 2_147_483_647;

/** Parses the subset of PostgreSQL interval syntax a partition interval or retention uses:
 *  whole amounts with units ("90 days", "1 year 1 month", "13 months") and an optional
 *  "HH:MM[:SS]" time part. Throws IntervalSyntaxError naming what is wrong. */
export function parseInterval(input: string): Interval {
  const text = input.trim().replace(/\s+/g, " ");
  if (text === "") throw new IntervalSyntaxError("it is empty");
  let months = 0;
  let days = 0;
  let us = 0;
  const re = /^(\d+)\s*([a-z]+)\b\s*|^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*/i;
  let rest = text;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) {
      if (/^-/.test(rest)) throw new IntervalSyntaxError("negative amounts are not allowed");
      if (/^\d+\.\d/.test(rest)) throw new IntervalSyntaxError(`"${rest.split(" ")[0]}" is fractional; use a whole number of a smaller unit`);
      if (/^\d+$/.test(rest)) throw new IntervalSyntaxError(`"${rest}" has no unit; write e.g. "${rest} days"`);
      throw new IntervalSyntaxError(`cannot read "${rest}"`);
    }
    if (m[1] !== undefined) {
      const u = UNITS[m[2].toLowerCase()];
      if (!u) throw new IntervalSyntaxError(`unknown unit "${m[2]}"${suggest(m[2])}`);
      const n = Number(m[1]);
      if (!Number.isSafeInteger(n)) throw new IntervalSyntaxError(`"${m[1]}" is more than ${Number.MAX_SAFE_INTEGER}, the largest amount read exactly`);
      months += n * (u.months ?? 0);
      days += n * (u.days ?? 0);
      us += n * (u.us ?? 0);
    } else {
      us += (Number(m[3]) * 3600 + Number(m[4]) * 60 + Number(m[5] ?? 0)) * 1_000_000;
    }
    rest = rest.slice(m[0].length);
  }
  if (months === 0 && days === 0 && us === 0) throw new IntervalSyntaxError("it is zero");
  if (months > MAX_MONTHS_OR_DAYS || days > MAX_MONTHS_OR_DAYS) throw new IntervalSyntaxError(`it is more than PostgreSQL's interval holds (${MAX_MONTHS_OR_DAYS} months, and as many days)`);
  if (!Number.isSafeInteger(us)) throw new IntervalSyntaxError(`its hours, minutes and seconds come to more than about 285 years (${Number.MAX_SAFE_INTEGER} microseconds)`);
  return { text, months, days, microseconds: us };
}

function suggest(word: string): string {
  const w = word.toLowerCase();
  let best = "";
  let bestDistance = 3;
  for (const u of Object.keys(UNITS)) {
    const d = editDistance(w, u);
    const closerLength = d === bestDistance && Math.abs(u.length - w.length) < Math.abs(best.length - w.length);
    if (u.length > 2 && (d < bestDistance || closerLength)) [best, bestDistance] = [u, d];
  }
  return best ? ` (did you mean "${best}"?)` : "";
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

export function sameInterval(a: Interval | null, b: Interval | null): boolean {
  if (a === null || b === null) return a === b;
  return a.months === b.months && a.days === b.days && a.microseconds === b.microseconds;
}

/** Reads an interval stored by pg_partman; null when the text is not one we can read. */
export function tryParseInterval(text: string | null): Interval | null {
  if (text === null) return null;
  try {
    return parseInterval(text);
  } catch {
    return null;
  }
}

/** Approximate length in milliseconds (a month as 30 days, as PostgreSQL compares intervals). */
export function approxMillis(i: Interval): number {
  return (i.months * 30 + i.days) * 86_400_000 + i.microseconds / 1000;
}

/** `t + sign × i` as PostgreSQL computes it in UTC: months first (clamping the day to the month's
 *  end, so Mar 31 − 1 month = Feb 28), then days, then time. */
export function shiftTime(t: Date, i: Interval, sign: 1 | -1): Date {
  const d = new Date(t.getTime());
  if (i.months) {
    const day = d.getUTCDate();
    d.setUTCDate(1);
    d.setUTCMonth(d.getUTCMonth() + sign * i.months);
    const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    d.setUTCDate(Math.min(day, last));
  }
  if (i.days) d.setUTCDate(d.getUTCDate() + sign * i.days);
  return new Date(d.getTime() + (sign * i.microseconds) / 1000);
}
