// Runs the migration's statements, or, in a dry run, prints them and changes nothing. Reads
// (catalog lookups, progress) always run: a dry run shows the statements for the real table.

import type { Client, QueryResult, QueryResultRow } from "pg";
import { quoteLiteral } from "../config/identifiers";
import { inTransaction } from "../engine/lock-in-order";

export interface Executor {
  dryRun: boolean;
  db: Client;
  /** A statement that changes something: printed in a dry run. */
  write<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  read<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs fn in a transaction; rolls back if it throws. */
  transaction<T>(fn: () => Promise<T>, isolation?: "REPEATABLE READ"): Promise<T>;
}

export function executor(db: Client, dryRun: boolean, print: (sql: string) => void): Executor {
  const empty = { rows: [], rowCount: 0, command: "", oid: 0, fields: [] };
  return {
    dryRun,
    db,
    async write<R extends QueryResultRow>(sql: string, params?: unknown[]) {
      if (dryRun) {
        print(withParams(sql, params));
        return empty as unknown as QueryResult<R>;
      }
      return db.query<R>(sql, params);
    },
    read: <R extends QueryResultRow>(sql: string, params?: unknown[]) => db.query<R>(sql, params),
    async transaction<T>(fn: () => Promise<T>, isolation?: "REPEATABLE READ") {
      const begin = `BEGIN${isolation ? ` ISOLATION LEVEL ${isolation}` : ""}`;
      if (dryRun) {
        print(`${begin};`);
        const r = await fn();
        print("COMMIT;");
        return r;
      }
      return inTransaction(db, fn, begin);
    },
  };
}

/** The statement with its parameters written in, as a user would run it by hand. */
export function withParams(sql: string, params: unknown[] = []): string {
  const text = sql.replace(/\$(\d+)/g, (m, i) => (Number(i) <= params.length ? literal(params[Number(i) - 1]) : m));
  return text.trimEnd().endsWith(";") ? text : `${text};`;
}

function literal(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (Array.isArray(v)) return `ARRAY[${v.map(literal).join(", ")}]::text[]`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return quoteLiteral(String(v));
}

/** Test hooks at named points of a migration, so the tests can prove that every step resumes and
 *  that two commands never interfere. PARTMAN_STACK_FAILPOINT=<name>[:<n>] kills the process the
 *  n-th time (default the first) it reaches that point, as a crash or a `kill -9` would;
 *  PARTMAN_STACK_PAUSEPOINT=<name>[:<ms>] says `paused at <name>` on stderr the first time and waits
 *  there (default an hour), for the test to kill the process or its backend, or to run another
 *  command meanwhile. */
const hits = new Map<string, number>();
export async function checkpoint(name: string): Promise<void> {
  const [point, nth] = (process.env.PARTMAN_STACK_FAILPOINT ?? "").split(":");
  if (point === name) {
    const n = (hits.get(name) ?? 0) + 1;
    hits.set(name, n);
    if (n >= Number(nth ?? 1)) process.kill(process.pid, "SIGKILL");
  }
  const [pause, ms] = (process.env.PARTMAN_STACK_PAUSEPOINT ?? "").split(":");
  if (pause === name && !hits.has(`pause ${name}`)) {
    hits.set(`pause ${name}`, 1);
    process.stderr.write(`paused at ${name}\n`);
    await new Promise((r) => setTimeout(r, Number(ms ?? 3_600_000)));
  }
}
