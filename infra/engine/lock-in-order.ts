// The TypeScript side of partman_stack.lock_in_order (sql/maintenance/lock_in_order.sql), the one
// way partman-stack takes a strong lock on a live table: the parent first, then its partitions,
// without queuing behind old transactions, each attempt bounded by maintenance.lockTimeout and all
// of them by maxLockWait.

import type { Client } from "pg";
import { quoteLiteral } from "../config/identifiers";
import type { MaintenanceSpec } from "../config/types";
import { MAINTENANCE_SCHEMA } from "../partman/maintenance-objects";

export type LockMode = "ACCESS EXCLUSIVE" | "SHARE";

type LockSettings = Pick<MaintenanceSpec, "lockTimeout" | "maxLockWait">;

function args(tables: string[], m: LockSettings, mode: LockMode): string {
  return `ARRAY[${tables.map((x) => quoteLiteral(x)).join(", ")}]::regclass[], ${quoteLiteral(m.lockTimeout.text)}, ${quoteLiteral(m.maxLockWait.text)}, ${quoteLiteral(mode)}`;
}

/** The helper's call for these tables (quoted names, parent first), returning whether it got them,
 *  its attempts, the time it waited and who held them. */
export function lockInOrderSql(tables: string[], m: LockSettings, mode: LockMode = "ACCESS EXCLUSIVE"): string {
  return `SELECT * FROM ${MAINTENANCE_SCHEMA}.lock_in_order(${args(tables, m, mode)});`;
}

/** The same, for work that cannot be deferred: an error naming who held the tables when the
 *  budget runs out. As plans and dry runs show it. */
export function requireLocksSql(tables: string[], m: LockSettings, mode: LockMode = "ACCESS EXCLUSIVE"): string {
  return `SELECT ${MAINTENANCE_SCHEMA}.lock_in_order_or_raise(${args(tables, m, mode)});`;
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
