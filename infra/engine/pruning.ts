// Proof that queries prune: EXPLAIN (FORMAT JSON) plans read for the partitions they scan. A
// declared hot query is prepared as the application prepares it and explained with its example
// parameters bound, in a custom plan (the values folded in: the planner prunes) and in a generic
// plan (what a prepared statement switches to after five runs: the partitions are pruned when the
// executor starts, shown as "Subplans Removed", and pruned partitions are left out of the plan).
// Plain EXPLAIN runs nothing, and it runs in a read-only transaction that is rolled back.

import { escapeLiteral, type Client, type QueryConfig } from "pg";
import { quoteIdent as q } from "../config/identifiers";
import type { QuerySpec, TableSpec } from "../config/types";
import { userSqlSearchPath, type Session } from "../db/session";
import { PartmanStackError } from "../config/errors";

/** Below this size a sequential scan is what the planner rightly chooses, index or not. */
export const TRIVIAL_PARTITION_BYTES = 1024 * 1024;

/** One plan's reading of the table's partitions. */
export interface PlanPruning {
  /** The table's partitions the plan scans, by name. */
  partitions: string[];
  /** "Subplans Removed": partitions pruned when the executor started (parameters, now()). */
  removedAtStartup: number;
  /** Partitions read whole (Seq Scan). */
  seqScans: string[];
  /** Indexes the plan reads partitions through. */
  indexes: string[];
}

export interface QueryPruning {
  /** `schema.table`. */
  table: string;
  query: string;
  source: string;
  ok: boolean;
  /** Why it failed, each sentence naming the query; empty when ok. */
  problems: string[];
  /** What to change when it failed. */
  fix: string | null;
  maxPartitions: number;
  index: boolean;
  /** The table's partitions, the default one included. */
  totalPartitions: number;
  /** null when the query could not be prepared (problems says why). */
  custom: PlanPruning | null;
  generic: PlanPruning | null;
}

type TableRef = Pick<TableSpec, "name" | "schema" | "table" | "control">;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Schema?: string;
  "Index Name"?: string;
  "Subplans Removed"?: number;
  Plans?: PlanNode[];
}

interface Partition {
  name: string;
  bytes: number;
}

/** Explains each query against `table` (a client not inside a transaction, or a session). */
export async function checkQueryPruning(db: Client | Session, table: TableRef, queries: QuerySpec[]): Promise<QueryPruning[]> {
  const client = "target" in db ? db.target : db;
  const partitions = await leafPartitions(client, table);
  const out: QueryPruning[] = [];
  for (const query of queries) out.push(await checkOne(client, table, partitions, query));
  return out;
}

async function leafPartitions(db: Client, t: TableRef): Promise<Map<string, Partition>> {
  const r = await db.query<{ exists: boolean; name: string | null; bytes: string | null }>(
    `SELECT to_regclass($1) IS NOT NULL AS exists, p.name, p.bytes
       FROM (SELECT 1) x
       LEFT JOIN LATERAL (
         SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes
           FROM pg_partition_tree(to_regclass($1)) t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE t.isleaf AND n.nspname = $2) p ON true`,
    [`${q(t.schema)}.${q(t.table)}`, t.schema],
  );
  if (!r.rows[0].exists) throw new PartmanStackError(`${t.name} does not exist, so its queries cannot be checked`, "create it first (partman-stack apply)", { join: "; " });
  return new Map(r.rows.filter((x) => x.name !== null).map((x) => [x.name!, { name: x.name!, bytes: Number(x.bytes) }]));
}

async function checkOne(db: Client, t: TableRef, partitions: Map<string, Partition>, query: QuerySpec): Promise<QueryPruning> {
  const base = { table: t.name, query: query.name, source: query.source, maxPartitions: query.maxPartitions, index: query.index, totalPartitions: partitions.size };
  const statement = `partman_stack_query_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const execute = `EXECUTE ${statement}${query.params.length ? `(${query.params.map((v) => (v === null ? "NULL" : escapeLiteral(v))).join(", ")})` : ""}`;
  let prepared = false;
  let custom: PlanPruning;
  let generic: PlanPruning;
  await db.query("BEGIN READ ONLY");
  try {
    // A prepared statement keeps the search_path it was prepared under.
    await db.query(`SET LOCAL search_path = ${userSqlSearchPath(t.schema)}`);
    // The extended protocol refuses a second statement smuggled into the text.
    await db.query({ text: `PREPARE ${statement} AS ${query.sql}`, queryMode: "extended" } as QueryConfig);
    prepared = true;
    const explain = async (mode: "force_custom_plan" | "force_generic_plan") => {
      await db.query(`SET LOCAL plan_cache_mode = ${mode}`);
      const r = await db.query<{ "QUERY PLAN": { Plan: PlanNode }[] }>(`EXPLAIN (VERBOSE, FORMAT JSON) ${execute}`);
      return readPlan(r.rows[0]["QUERY PLAN"][0].Plan, t.schema, partitions);
    };
    custom = await explain("force_custom_plan");
    generic = await explain("force_generic_plan");
  } catch (err) {
    const problem = `query "${query.name}" (${query.source}) cannot be planned: ${(err as Error).message}`;
    return { ...base, ok: false, problems: [problem], fix: `correct the query's SQL or its example parameters (a placeholder PostgreSQL cannot type needs a cast, e.g. $1::timestamptz)`, custom: null, generic: null };
  } finally {
    await db.query("ROLLBACK");
    // Prepared statements outlive the transaction.
    if (prepared) await db.query(`DEALLOCATE ${statement}`);
  }
  const problems: string[] = [];
  const named = `query "${query.name}" (${query.source})`;
  const same = (a: string[], b: string[]) => a.join() === b.join();
  const plans = same(custom.partitions, generic.partitions) && same(custom.seqScans, generic.seqScans) ? ([["custom and generic plans", custom]] as const) : ([["custom plan", custom], ["generic plan", generic]] as const);
  for (const [plan, p] of plans) {
    if (p.partitions.length > query.maxPartitions) {
      problems.push(`${named} scans ${p.partitions.length} of ${partitions.size} partitions of ${t.name} in its ${plan} (${p.partitions.join(", ")}), more than maxPartitions ${query.maxPartitions}`);
    }
    const big = query.index ? p.seqScans.filter((n) => partitions.get(n)!.bytes >= TRIVIAL_PARTITION_BYTES) : [];
    if (big.length > 0) {
      problems.push(`${named} reads ${big.map((n) => `${n} (${mb(partitions.get(n)!.bytes)})`).join(", ")} whole (Seq Scan) in its ${plan}, but is declared index: true`);
    }
  }
  const fixes = [
    ...(problems.some((x) => x.includes("maxPartitions"))
      ? [`bound ${t.control} itself (${t.control} >= $1 AND ${t.control} < $2), not an expression or cast of it, and on both sides (an open end reaches every premade partition and the default), or raise maxPartitions if the query really reads that many`]
      : []),
    ...(problems.some((x) => x.includes("Seq Scan")) ? [`create an index that serves the query's conditions on ${t.name} (it is made on every partition), or declare index: false`] : []),
  ];
  return { ...base, ok: problems.length === 0, problems, fix: fixes.length ? fixes.join("; ") : null, custom, generic };
}

/** The partitions of the table (by schema and name) the plan scans, and how it reads them. */
function readPlan(root: PlanNode, schema: string, partitions: Map<string, Partition>): PlanPruning {
  const own = relationScans(root).filter((s) => s.schema === schema && partitions.has(s.relation));
  const names = (list: RelationScan[]) => [...new Set(list.map((s) => s.relation))].sort();
  return {
    partitions: names(own),
    removedAtStartup: planNodes(root).reduce((n, x) => n + (x["Subplans Removed"] ?? 0), 0),
    seqScans: names(own.filter((s) => s.node === "Seq Scan")),
    indexes: [...new Set(own.flatMap((s) => s.indexes))].sort(),
  };
}

interface RelationScan {
  node: string;
  schema: string | null;
  relation: string;
  /** The index it reads through; a Bitmap Heap Scan's are on the Bitmap Index Scans below it. */
  indexes: string[];
}

/** Every node that reads a relation (ModifyTable's target is the parent, not a read). */
function relationScans(root: PlanNode): RelationScan[] {
  return planNodes(root)
    .filter((n) => n["Relation Name"] && n["Node Type"] !== "ModifyTable")
    .map((n) => ({
      node: n["Node Type"],
      schema: n.Schema ?? null,
      relation: n["Relation Name"]!,
      indexes: (n["Node Type"] === "Bitmap Heap Scan" ? planNodes(n) : [n]).flatMap((x) => (x["Index Name"] ? [x["Index Name"]] : [])),
    }));
}

function planNodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(planNodes)];
}

/** The relations a plain query's plan scans, by name. */
export async function scannedRelations(db: Client, query: string): Promise<string[]> {
  const r = await db.query<{ "QUERY PLAN": { Plan: PlanNode }[] }>(`EXPLAIN (FORMAT JSON) ${query}`);
  return [...new Set(relationScans(r.rows[0]["QUERY PLAN"][0].Plan).map((s) => s.relation))].sort();
}

/** verify's check of a declared query (one of verify's Checks). */
export interface QueryCheck {
  check: "query";
  table: string;
  query: string;
  status: "ok" | "fail";
  message: string;
  fix?: string;
}

/** verify's check per declared query of the table. */
export async function queryChecks(db: Client, t: TableSpec): Promise<QueryCheck[]> {
  if (t.queries.length === 0) return [];
  return (await checkQueryPruning(db, t, t.queries)).map((r) => ({
    check: "query" as const,
    table: t.name,
    query: r.query,
    status: r.ok ? ("ok" as const) : ("fail" as const),
    message: r.ok ? describeResult(r) : `${r.problems.join("; ")}${r.custom ? ` (${describeResult(r)})` : ""}`,
    ...(r.fix ? { fix: r.fix } : {}),
  }));
}

/** "query "x" (source): custom plan scans 1 of 9 partition(s) (a), generic plan 1 (a; 8 removed at executor startup), within maxPartitions 2; index i". */
export function describeResult(r: QueryPruning): string {
  const plan = (p: PlanPruning) =>
    `${p.partitions.length} (${[p.partitions.join(", ") || "none", ...(p.removedAtStartup ? [`${p.removedAtStartup} removed at executor startup`] : [])].join("; ")})`;
  const reads = [...new Set([...r.custom!.indexes, ...r.generic!.indexes])];
  const seq = [...new Set([...r.custom!.seqScans, ...r.generic!.seqScans])];
  return (
    `query "${r.query}" (${r.source}): custom plan scans ${plan(r.custom!)}, generic plan ${plan(r.generic!)} of ${r.totalPartitions} partition(s), maxPartitions ${r.maxPartitions}` +
    (reads.length ? `; through ${reads.join(", ")}` : "") +
    (seq.length ? `; reads ${seq.join(", ")} whole` : "")
  );
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
