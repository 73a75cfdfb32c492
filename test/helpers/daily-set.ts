import { afterEach, beforeEach } from "vitest";
import type { Session } from "../../infra/db/session";
import { createTestDatabase, type TestDatabase } from "./database";
import { dailySuffix, sessionFor } from "./spec";

export const DAY = 86_400_000;

/** Each test's own database and session for the daily set public.`table` (the hooks that open and
 *  drop them are registered here), with its days counted from UTC midnight of the database's now(). */
export function dailySet(version: string, table: string) {
  const fx = {
    db: undefined as unknown as TestDatabase,
    session: undefined as unknown as Session,
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
  };

  beforeEach(async () => {
    fx.db = await createTestDatabase({ partman: null });
    fx.session = await sessionFor(fx.db);
    const now = (await fx.session.target.query<{ now: Date }>(`SELECT now()`)).rows[0].now.getTime();
    fx.today = now - (now % DAY);
  });

  afterEach(async () => {
    await fx.session.close();
    await fx.db.drop();
  });

  return fx;
}
