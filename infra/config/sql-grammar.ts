// PostgreSQL's own grammar: the server's parser (libpg-query, PostgreSQL 18's parser compiled to
// WebAssembly) and a printer of parse trees back to SQL (pgsql-deparser), for the table files
// partman-stack reads and the statements it rewrites. PostgreSQL 18's grammar reads all that 15 to
// 17 read in a table file; what only 18 reads (a VIRTUAL generated column, NOT ENFORCED) passes the
// checks and is refused by an older server when the file runs, in the transaction that would have
// created the table. The WebAssembly module only loads asynchronously, while declarations
// are checked synchronously (loadStack, the Pulumi component's constructor, a provider's check), so
// the parser runs in a worker thread that this thread waits for.

// The module itself, not named imports: a closure-serialized provider that captures this code
// must capture the built-in module (written back as a require), never one of its native functions.
import workerThreads from "node:worker_threads";
import type { Node, ParseResult, ScanResult } from "libpg-query";
import { deparseSync } from "pgsql-deparser";

export type { Node } from "libpg-query";

/** PostgreSQL's parser refused the text: its message and where it stopped (line and column). */
export class SqlSyntaxError extends Error {}

// Plain JavaScript, evaluated in the worker: libpg-query is required there by the path this thread
// resolved, so it is the same copy wherever the code runs.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
parentPort.on("message", async ({ fn, sql, port, done }) => {
  let reply;
  try {
    const parser = require(workerData.parser);
    await parser.loadModule();
    reply = { value: parser[fn](sql) };
  } catch (e) {
    // A SqlError is the parser refusing the text; anything else is the parser failing.
    reply = e && e.sqlDetails ? { refused: String(e.message), position: e.sqlDetails.cursorPosition } : { failed: String(e && e.message) };
  }
  port.postMessage(reply);
  port.close();
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
});`;

/** Held on the global object, not in this module: a closure-serialized provider captures this
 *  module's variables by value, and a live worker cannot travel that way (nor can a symbol). */
const WORKER_KEY = "partmanStackSqlGrammarWorker";
/** Loading the module the first time takes a fraction of a second; a minute means the worker is stuck. */
const ANSWER_WITHIN_MS = 60_000;

function call<T>(fn: "parseSync" | "scanSync", sql: string): T {
  const g = globalThis as { [WORKER_KEY]?: workerThreads.Worker };
  let worker = g[WORKER_KEY];
  if (!worker) {
    worker = new workerThreads.Worker(WORKER, { eval: true, workerData: { parser: require.resolve("libpg-query") } });
    // Never what keeps the process alive; one that died is replaced at the next call.
    worker.unref();
    worker.on("exit", () => delete g[WORKER_KEY]);
    g[WORKER_KEY] = worker;
  }
  const { port1, port2 } = new workerThreads.MessageChannel();
  const done = new Int32Array(new SharedArrayBuffer(4));
  worker.postMessage({ fn, sql, port: port2, done }, [port2]);
  const waited = Atomics.wait(done, 0, 0, ANSWER_WITHIN_MS);
  const reply = workerThreads.receiveMessageOnPort(port1)?.message as { value?: T; refused?: string; position?: number; failed?: string } | undefined;
  port1.close();
  if (waited === "timed-out" || !reply) throw new Error(`PostgreSQL's parser (libpg-query) did not answer within ${ANSWER_WITHIN_MS / 1000} s`);
  if (reply.failed !== undefined) throw new Error(`PostgreSQL's parser (libpg-query) failed: ${reply.failed}`);
  if (reply.refused !== undefined) {
    if (reply.position === undefined || reply.position < 0) throw new SqlSyntaxError(reply.refused);
    // An error's position counts characters from 0 (the tree's positions count bytes).
    const before = sql.slice(0, reply.position).split("\n");
    throw new SqlSyntaxError(`${reply.refused} (line ${before.length}, column ${before[before.length - 1].length + 1})`);
  }
  return reply.value as T;
}

/** The parse tree of `sql`, every statement in it. */
export function parseSql(sql: string): ParseResult {
  return call<ParseResult>("parseSync", sql);
}

/** Each statement of `sql`: its parse tree and its text as written, from its first word (comments
 *  before it left out) to its end (without the semicolon). */
export function sqlStatements(sql: string): { stmt: Node; text: string }[] {
  const bytes = Buffer.from(sql);
  const stmts = parseSql(sql).stmts ?? [];
  if (stmts.length === 0) return [];
  // The parser's positions are bytes; comments are the scanner's tokens.
  const words = call<ScanResult>("scanSync", sql).tokens.filter((t) => t.tokenName !== "SQL_COMMENT" && t.tokenName !== "C_COMMENT");
  return stmts.map((s) => {
    const from = s.stmt_location ?? 0;
    const to = s.stmt_len ? from + s.stmt_len : bytes.length;
    const start = words.find((w) => w.start >= from)?.start ?? from;
    return { stmt: s.stmt!, text: bytes.subarray(start, to).toString().trim() };
  });
}

/** A parse tree as SQL. Checked by parsing the text again: a printer that lost or changed anything
 *  fails here, never in the database. */
export function printSql(stmt: Node): string {
  const sql = deparseSync([stmt], { pretty: false });
  let again: Node[] = [];
  try {
    again = (parseSql(sql).stmts ?? []).map((s) => s.stmt!);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
  }
  if (again.length !== 1 || treeText(again[0]) !== treeText(stmt)) {
    throw new Error(`printing a parse tree as SQL gave a statement PostgreSQL reads differently (a pgsql-deparser bug): ${sql}`);
  }
  return sql;
}

/** A fragment of a parse tree (a type, an expression) as SQL, for messages and comparisons: not
 *  checked as printSql's statements are, so never SQL to run. */
export function describeNode(node: Node): string {
  return deparseSync(node, { pretty: false });
}

/** The fields of parse tree nodes that hold positions in the text. */
const POSITIONS = new Set(["location", "name_location", "list_start", "list_end", "rexpr_list_start", "rexpr_list_end", "stmt_location", "stmt_len"]);

/** A parse tree's content without the positions in the text it came from, its keys in one order,
 *  and an option's value (WITH (fillfactor = '70'), as pg_get_indexdef prints it) as its text:
 *  PostgreSQL reads `'70'` and `70` there alike, and the printer writes the one for the other. */
export function treeText(stmt: Node): string {
  return JSON.stringify(stmt, function (this: Record<string, unknown>, key, value: unknown) {
    if (POSITIONS.has(key)) return undefined;
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
    if (key === "arg" && "defname" in this) {
      const v = value as { String?: { sval?: string }; Integer?: { ival?: number }; Float?: { fval?: string } };
      if (v.String) return v.String.sval ?? "";
      if (v.Integer) return String(v.Integer.ival ?? 0);
      if (v.Float) return v.Float.fval ?? "";
    }
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
