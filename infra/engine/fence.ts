// Fences (sql/maintenance/fences.sql) held from TypeScript, for work that spans transactions: one
// apply of a table or of the job at a time, and no expiry of a set while archive dumps and drops its
// partitions. Held in an open transaction on a connection of their own, so they end with the
// process (or its connection) that holds them, and nobody but the owner can take or hold them.
// While the holding transaction has taken only these locks it has no transaction id and no
// snapshot: it holds back no VACUUM, however long it lasts.

import type { Client } from "pg";
import { applicationName, type Session } from "../db/session";
import { MAINTENANCE_SCHEMA } from "../partman/maintenance-objects";
import { PartmanStackError } from "../config/errors";

export interface FenceRequest {
  /** What the fence stands for, in messages. */
  what: string;
  /** partman-stack's function returning the fence (created on first use), and its argument. */
  fn: "fence" | "maintenance_fence";
  arg: string;
}

/** One apply of a unit (a table, the job) at a time. */
export const applyFence = (unit: string): FenceRequest => ({ what: `the apply lock of ${unit}`, fn: "fence", arg: `apply ${unit}` });

/** The fence a set's expiry takes (expire.sql): archive holds it between a dump and its drop. */
export const maintenanceFence = (set: string): FenceRequest => ({ what: `the maintenance fence of ${set}`, fn: "maintenance_fence", arg: set });

/** One `migrate run`, `rollback` or `finish` of a table at a time. */
export const migrateFence = (table: string): FenceRequest & { fn: "fence" } => ({ what: `the migrate lock of ${table}`, fn: "fence", arg: `migrate ${table}` });

export class FenceWaitTimeout extends PartmanStackError {
  constructor(
    readonly fence: FenceRequest,
    readonly waitedMs: number,
    readonly holder: string | null,
  ) {
    super(`waited ${Math.round(waitedMs / 100) / 10} s for ${fence.what}, ${holder ? `held by ${holder}` : "held by a session that has finished meanwhile"}`);
  }
}

export interface FenceHold {
  held: FenceRequest[];
  /** The fences not obtained by the deadline, each with who held it. */
  unavailable: FenceWaitTimeout[];
  /** Why the hold ended before release(), when it did: its connection was lost (terminated by the
   *  server, or a network failure), and with it the fences. */
  lost(): Error | null;
  /** Says what the holder is doing now, in the holding connection's application_name: what the
   *  others are told when they find the fence held. */
  setPhase(phase: string): Promise<void>;
  release(): Promise<void>;
}

export interface HoldOptions {
  /** Epoch ms: the latest any wait may end. Past it, each fence is tried once without waiting. */
  deadline: number;
  /** Hears who holds a fence before this waits for it, so a caller can say what it waits for. */
  onWait?: (fence: FenceRequest, holder: string | null, budgetMs: number) => void;
  /** The holding connection's application_name: what the holder is doing, as others are told. */
  purpose?: string;
}

/** Takes the fences in the order given (callers sort them, so two holders never wait in a cycle),
 *  each within the deadline; a fence another session holds past it is reported in `unavailable`
 *  and the others are still taken. */
export async function holdFences(session: Session, fences: FenceRequest[], opts: HoldOptions): Promise<FenceHold> {
  const c = await session.connect(opts.purpose);
  let lost: Error | null = null;
  let released = false;
  c.on("error", (err) => {
    lost = err;
  });
  c.on("end", () => {
    if (!released) lost ??= new PartmanStackError("the connection holding the fences closed");
  });
  const held: FenceRequest[] = [];
  const unavailable: FenceWaitTimeout[] = [];
  try {
    // Each made (if new) in a transaction of its own, before the one that holds them.
    const relations: string[] = [];
    for (const f of fences) {
      relations.push((await c.query<{ r: string }>(`SELECT ${MAINTENANCE_SCHEMA}.relation_name(${MAINTENANCE_SCHEMA}.${f.fn}($1)) AS r`, [f.arg])).rows[0].r);
    }
    await c.query("BEGIN");
    // It idles in its transaction for as long as the work it fences lasts.
    await c.query("SET LOCAL idle_in_transaction_session_timeout = 0; SET LOCAL statement_timeout = 0");
    for (const [i, f] of fences.entries()) {
      const failure = await take(c, f, relations[i], opts);
      if (failure) unavailable.push(failure);
      else held.push(f);
    }
  } catch (err) {
    released = true;
    await c.end().catch(() => {});
    throw err;
  }
  const purpose = opts.purpose ?? null;
  return {
    held,
    unavailable,
    lost: () => lost,
    async setPhase(phase) {
      if (!lost && !released) await c.query(`SELECT set_config('application_name', $1, false)`, [applicationName(`${purpose ? `${purpose}: ` : ""}${phase}`)]).catch(() => {});
    },
    async release() {
      if (released) return;
      released = true;
      await c.query("ROLLBACK").catch(() => {});
      await c.end().catch(() => {});
    },
  };
}

async function take(c: Client, f: FenceRequest, relation: string, opts: HoldOptions): Promise<FenceWaitTimeout | null> {
  const started = Date.now();
  const lock = async (wait: number) => {
    await c.query("SAVEPOINT partman_stack_fence");
    await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.max(wait, 1)}ms`]);
    try {
      await c.query(`LOCK TABLE ${relation} IN SHARE UPDATE EXCLUSIVE MODE${wait === 0 ? " NOWAIT" : ""}`);
      await c.query("RELEASE SAVEPOINT partman_stack_fence");
      return true;
    } catch (err) {
      await c.query("ROLLBACK TO SAVEPOINT partman_stack_fence");
      if ((err as { code?: string }).code !== "55P03") throw err;
      return false;
    }
  };
  const holder = async () => (await c.query<{ h: string | null }>(`SELECT ${MAINTENANCE_SCHEMA}.fence_holder($1::regclass) AS h`, [relation])).rows[0].h;
  if (await lock(0)) return null;
  const budget = opts.deadline - Date.now();
  if (budget > 0) {
    opts.onWait?.(f, await holder(), budget);
    if (await lock(opts.deadline - Date.now())) return null;
  }
  return new FenceWaitTimeout(f, Date.now() - started, await holder());
}

/** Who holds a fence named by fence() (applyFence, migrateFence), or null: read without making or
 *  taking it. Nobody holds one while partman-stack's objects (of a version with fences) are not
 *  installed: nothing read-only installs them. */
export async function fenceHolder(db: Client, f: FenceRequest & { fn: "fence" }): Promise<string | null> {
  const fns = [`${MAINTENANCE_SCHEMA}.existing_fence(text)`, `${MAINTENANCE_SCHEMA}.fence_holder(regclass)`];
  const installed = (await db.query<{ ok: boolean }>(`SELECT to_regprocedure($1) IS NOT NULL AND to_regprocedure($2) IS NOT NULL AS ok`, fns)).rows[0].ok;
  if (!installed) return null;
  return (await db.query<{ h: string | null }>(`SELECT ${MAINTENANCE_SCHEMA}.fence_holder(${MAINTENANCE_SCHEMA}.existing_fence($1)) AS h`, [f.arg])).rows[0].h;
}
