// `partman-stack/testing`: for the application's own test suite, with any test framework. Throws
// an Error listing every declared hot query that does not prune (or needs an index it does not
// use), so a failing test names them.

import type { Client } from "pg";
import type { StackSpec, TableSpec } from "./config/types";
import { parseDatabaseUrl } from "./db/connection";
import { openSession } from "./db/session";
import { checkQueryPruning, type QueryPruning } from "./engine/pruning";
import { PartmanStackError } from "./config/errors";

/** Checks the declared queries of `tables` (a loaded stack, or some of its tables) against the
 *  database at `database` (a URL, opened in UTC as partman-stack's own sessions are, or a connected
 *  client not inside a transaction). Returns every query's result when all pass. */
export async function expectQueriesPrune(database: string | Client, tables: StackSpec | TableSpec[]): Promise<QueryPruning[]> {
  const list = Array.isArray(tables) ? tables : tables.tables;
  const session = typeof database === "string" ? await openSession(parseDatabaseUrl(database), { owner: null, purpose: "expectQueriesPrune" }) : null;
  const results: QueryPruning[] = [];
  try {
    for (const t of list) results.push(...(await checkQueryPruning(session ?? (database as Client), t, t.queries)));
  } finally {
    await session?.close();
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new PartmanStackError(`${failed.length} of ${results.length} queries do not prune as declared:\n${failed.map((r) => `- ${r.problems.join("; ")}${r.fix ? `\n  fix: ${r.fix}` : ""}`).join("\n")}`);
  }
  return results;
}
