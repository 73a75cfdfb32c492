import { beforeEach } from "vitest";
import { dailySuffix } from "./spec";
import { testDatabase } from "./test-database";

export const DAY = 86_400_000;

/** Each test's own database and session (testDatabase) for the daily set public.`table`, with its
 *  days counted from UTC midnight of the database's now(). */
export function dailySet(version: string, table: string) {
  const fx = Object.assign(testDatabase(), {
    /** UTC midnight of the day the test runs: the partitions are days from it. */
    today: 0,
    day: (offset: number) => new Date(fx.today + offset * DAY),
    /** The partition pg_partman `version` names for the day `offset` days from today. */
    name: (offset: number) => `${table}${dailySuffix(version, fx.day(offset))}`,
    names: (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => fx.name(from + i)),
    /** A startPartition ten days back. */
    start: () => fx.day(-10).toISOString().slice(0, 10),
    children: async () =>
      (
        await fx.session.target.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = $1::regclass ORDER BY c.relname`,
          [`public.${table}`],
        )
      ).rows.map((r) => r.name),
  });

  // After testDatabase's own beforeEach, which opens the session.
  beforeEach(async () => {
    const now = (await fx.session.target.query<{ now: Date }>(`SELECT now()`)).rows[0].now.getTime();
    fx.today = now - (now % DAY);
  });

  return fx;
}
