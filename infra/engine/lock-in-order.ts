// The TypeScript side of partman_stack.lock_in_order (sql/maintenance/lock_in_order.sql), the one
// way partman-stack takes a strong lock on a live table: the parent first, then its partitions,
// without queuing behind old transactions, each attempt bounded by maintenance.lockTimeout and all
// of them by maxLockWait.

import type { Client } from "pg";
import { quoteLiteral } from "../config/identifiers";
import type { MaintenanceSpec } from "../config/types";
import { MAINTENANCE_SCHEMA } from "./partman";

export type LockMode = "ACCESS EXCLUSIVE" | "SHARE";

/** The helper's call for these tables (quoted names, parent first), as plans and dry runs show it. */
export function lockInOrderSql(tables: string[], m: Pick<MaintenanceSpec, "lockTimeout" | "maxLockWait">, mode: LockMode = "ACCESS EXCLUSIVE"): string {
  return (
    `SELECT * FROM ${MAINTENANCE_SCHEMA}.lock_in_order(ARRAY[${tables.map((x) => quoteLiteral(x)).join(", ")}]::regclass[], ` +
    `${quoteLiteral(m.lockTimeout.text)}, ${quoteLiteral(m.maxLockWait.text)}, ${quoteLiteral(mode)});`
  );
}

/** Runs the helper's call inside the caller's open transaction; throws, naming who held the tables,
 *  when the budget ran out. */
export async function lockOrThrow(db: Client, lockSql: string, why: string): Promise<void> {
  const r = (await db.query<{ acquired: boolean; waited_ms: number; blocker: string | null }>(lockSql)).rows[0];
  if (!r.acquired) throw new Error(`could not lock to ${why} within ${r.waited_ms} ms: held by ${r.blocker ?? "other sessions"}`);
}

/** fn in a transaction, rolled back if it throws. */
export async function inTransaction<T>(db: Client, fn: () => Promise<T>, begin = "BEGIN"): Promise<T> {
  await db.query(begin);
  try {
    const r = await fn();
    await db.query("COMMIT");
    return r;
  } catch (err) {
    await db.query("ROLLBACK").catch(() => {});
    throw err;
  }
}
