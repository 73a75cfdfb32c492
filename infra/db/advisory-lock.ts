// Advisory locks taken with a bounded wait: when the wait runs out, the error names the session
// that holds the lock (pid, application, user, since when), so whoever reads it knows what to wait
// for or whom to ask.

import type { Client } from "pg";

export interface AdvisoryKey {
  /** What the lock stands for, in messages. */
  what: string;
  /** Arguments of pg_advisory_lock and friends. */
  args: string;
  params: unknown[];
  /** Matches the lock's row in pg_locks (alias l), with the same params. */
  inPgLocks: string;
}

/** The two-key form (objsubid 2): classid and objid are the keys as unsigned 32-bit values. */
export function pairKey(what: string, space: string, name: string): AdvisoryKey {
  return {
    what,
    args: "hashtext($1), hashtext($2)",
    params: [space, name],
    inPgLocks: "l.objsubid = 2 AND l.classid::int8 = (hashtext($1)::int8 & 4294967295) AND l.objid::int8 = (hashtext($2)::int8 & 4294967295)",
  };
}

export class LockWaitTimeout extends Error {
  constructor(
    readonly key: AdvisoryKey,
    readonly waitedMs: number,
    readonly holder: string | null,
  ) {
    super(`waited ${Math.round(waitedMs / 100) / 10} s for ${key.what}, ${holder ? `held by ${holder}` : "held by a session that has finished meanwhile"}`);
  }
}

/** Takes the lock, waiting until `deadline` (epoch ms) at most. `transaction`: a transaction-level
 *  lock, inside the caller's open transaction (which stays usable when the wait runs out); otherwise
 *  a session-level one the caller releases with unlock(). `onWait` hears who holds it before a wait
 *  starts, so a caller can say what it waits for rather than appear to hang. */
export async function lockBefore(client: Client, key: AdvisoryKey, deadline: number, transaction: boolean, onWait?: (holder: string | null) => void): Promise<void> {
  const started = Date.now();
  const fn = transaction ? "pg_advisory_xact_lock" : "pg_advisory_lock";
  const wait = Math.max(deadline - started, 0);
  if (wait === 0 || onWait) {
    const got = await client.query<{ ok: boolean }>(`SELECT ${fn.replace("pg_", "pg_try_")}(${key.args}) AS ok`, key.params);
    if (got.rows[0].ok) return;
    const holder = await holderOf(client, key);
    if (wait === 0) throw new LockWaitTimeout(key, 0, holder);
    onWait!(holder);
  }
  // A server-wide statement_timeout must not cut the wait short, nor our lock_timeout outlive it.
  const [before, after, undo] = transaction
    ? ["SAVEPOINT partman_stack_lock", "RELEASE SAVEPOINT partman_stack_lock", "ROLLBACK TO SAVEPOINT partman_stack_lock"]
    : [null, "RESET lock_timeout; RESET statement_timeout", "RESET lock_timeout; RESET statement_timeout"];
  if (before) await client.query(before);
  await client.query(`SELECT set_config('lock_timeout', $1, ${transaction}), set_config('statement_timeout', '0', ${transaction})`, [`${wait}ms`]);
  try {
    await client.query(`SELECT ${fn}(${key.args})`, key.params);
  } catch (err) {
    await client.query(undo);
    if ((err as { code?: string }).code !== "55P03") throw err;
    throw new LockWaitTimeout(key, Date.now() - started, await holderOf(client, key));
  }
  // Released with the savepoint, the transaction-level lock stays; the settings go back to the session's.
  if (transaction) await client.query("SET LOCAL lock_timeout TO DEFAULT; SET LOCAL statement_timeout TO DEFAULT");
  await client.query(after);
}

export async function unlock(client: Client, key: AdvisoryKey): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(${key.args})`, key.params);
}

/** Who holds the lock, for a message; null if nobody does any more. */
export async function holderOf(client: Client, key: AdvisoryKey): Promise<string | null> {
  const r = await client.query<{ pid: number; app: string; usename: string; client: string | null; state: string | null; xact: number | null; connected: number }>(
    `SELECT a.pid, a.application_name AS app, a.usename, host(a.client_addr) AS client, a.state,
            extract(epoch FROM now() - a.xact_start)::float8 AS xact, extract(epoch FROM now() - a.backend_start)::float8 AS connected
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ${key.inPgLocks}
      LIMIT 1`,
    key.params,
  );
  const h = r.rows[0];
  if (!h) return null;
  const s = (x: number) => `${Math.round(x)} s`;
  return (
    `pid ${h.pid} (${h.app ? `"${h.app}"` : "no application_name"}, user ${h.usename}${h.client ? ` from ${h.client}` : ""}, ${h.state ?? "running"}, ` +
    `${h.xact !== null ? `in a transaction for ${s(h.xact)}` : `connected ${s(h.connected)} ago`})`
  );
}
