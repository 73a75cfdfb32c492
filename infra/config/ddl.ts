// Reads a table's DDL file with PostgreSQL's own parser, to check it against its declaration before
// any SQL runs: which table it creates, its columns, primary key and partitioning; and refuses
// statements a table file has no business holding.

import type { ColumnDef, Constraint, CreateStmt, Node, TypeName } from "libpg-query";
import { PartmanStackError } from "./errors";
import { describeNode, sqlStatements, SqlSyntaxError } from "./sql-grammar";

export interface DdlColumn {
  name: string;
  /** The type as PostgreSQL prints it, e.g. "timestamptz", "timestamp with time zone", "integer". */
  type: string;
  notNull: boolean;
}

export interface TableDdl {
  schema: string | null;
  table: string;
  columns: DdlColumn[];
  primaryKey: string[];
  partition: { strategy: string; columns: string[] } | null;
}

export class DdlError extends PartmanStackError {}

const ALLOWED_LIST = "a table file may hold only its CREATE TABLE, CREATE INDEX, ALTER TABLE, COMMENT ON and GRANT statements";

export function parseTableDdl(sql: string): TableDdl {
  let statements: ReturnType<typeof sqlStatements>;
  try {
    statements = sqlStatements(sql);
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw new DdlError(`PostgreSQL cannot parse it: ${err.message}`);
    throw err;
  }
  const creates = statements.filter((s) => isTableCreate(s.stmt));
  if (creates.length !== 1) throw new DdlError(`it must hold exactly one CREATE TABLE statement; it holds ${creates.length}`);
  for (const s of statements) {
    if (s === creates[0]) continue;
    // Statements a table file may hold besides its one CREATE TABLE: they run once, in the same
    // transaction, when the table is created.
    const allowed = "IndexStmt" in s.stmt || "CommentStmt" in s.stmt || ("AlterTableStmt" in s.stmt && s.stmt.AlterTableStmt.objtype === "OBJECT_TABLE") ||
      ("GrantStmt" in s.stmt && s.stmt.GrantStmt.is_grant === true) || ("GrantRoleStmt" in s.stmt && s.stmt.GrantRoleStmt.is_grant === true);
    const opening = `"${s.text.split(/\s+/).slice(0, 3).join(" ")} …"`;
    if ("RenameStmt" in s.stmt || "AlterObjectSchemaStmt" in s.stmt) throw new DdlError(`it holds ${opening}, which renames or moves something; a table file creates its table as the declaration names it`);
    if (!allowed) throw new DdlError(`it holds ${opening}; ${ALLOWED_LIST}`);
    if ("IndexStmt" in s.stmt && s.stmt.IndexStmt.concurrent) throw new DdlError(`CREATE INDEX CONCURRENTLY cannot run in the transaction that creates the table; drop CONCURRENTLY`);
    if ("AlterTableStmt" in s.stmt && (s.stmt.AlterTableStmt.cmds ?? []).some(drops)) throw new DdlError(`it holds an ALTER TABLE … DROP; a table file must not drop anything`);
  }
  return readCreateTable((creates[0].stmt as { CreateStmt: CreateStmt }).CreateStmt);
}

/** CREATE [UNLOGGED] TABLE; a temporary table is not the declared one. */
function isTableCreate(stmt: Node): boolean {
  return "CreateStmt" in stmt && stmt.CreateStmt.relation?.relpersistence !== "t";
}

/** ALTER TABLE's DROP subcommands: DROP [COLUMN], DROP CONSTRAINT, ALTER COLUMN … DROP NOT NULL,
 *  IDENTITY, EXPRESSION or DEFAULT (SET DEFAULT without its expression). */
const DROPS = new Set(["AT_DropColumn", "AT_DropConstraint", "AT_DropNotNull", "AT_DropIdentity", "AT_DropExpression"]);

function drops(cmd: Node): boolean {
  if (!("AlterTableCmd" in cmd)) return false;
  const c = cmd.AlterTableCmd;
  return DROPS.has(c.subtype ?? "") || (c.subtype === "AT_ColumnDefault" && c.def === undefined);
}

function readCreateTable(c: CreateStmt): TableDdl {
  if (c.ofTypename) throw new DdlError(`CREATE TABLE … OF a type hides the columns; list them`);
  const columns: DdlColumn[] = [];
  let primaryKey: string[] = [];
  for (const item of c.tableElts ?? []) {
    if ("TableLikeClause" in item) throw new DdlError(`CREATE TABLE … (LIKE …) hides the columns; list them`);
    if ("Constraint" in item) {
      if (item.Constraint.contype === "CONSTR_PRIMARY") primaryKey = names(item.Constraint.keys);
    } else if ("ColumnDef" in item) {
      const col: ColumnDef = item.ColumnDef;
      const constraints = (col.constraints ?? []).map((x) => (x as { Constraint: Constraint }).Constraint);
      const isPk = constraints.some((x) => x.contype === "CONSTR_PRIMARY");
      if (isPk) primaryKey = [col.colname!];
      columns.push({ name: col.colname!, type: typeText(col.typeName!), notNull: isPk || constraints.some((x) => x.contype === "CONSTR_NOTNULL") });
    }
  }
  for (const col of columns) if (primaryKey.includes(col.name)) col.notNull = true;

  const spec = c.partspec;
  const partition = spec
    ? {
        strategy: (spec.strategy ?? "").replace(/^PARTITION_STRATEGY_/, "").toLowerCase(),
        columns: (spec.partParams ?? []).map((p) => {
          const e = (p as { PartitionElem: { name?: string; expr?: Node } }).PartitionElem;
          return e.name ?? `(${describeNode(e.expr!)})`;
        }),
      }
    : null;
  return { schema: c.relation?.schemaname ?? null, table: c.relation!.relname!, columns, primaryKey, partition };
}

function names(list: Node[] | undefined): string[] {
  return (list ?? []).map((n) => (n as { String: { sval: string } }).String.sval);
}

/** The deparser spells pg_catalog.int4 `int`; PostgreSQL itself names it integer. */
function typeText(t: TypeName): string {
  const printed = describeNode({ TypeName: t });
  const int4 = names(t.names).join(".") === "pg_catalog.int4";
  return int4 ? printed.replace(/^int\b/, "integer") : printed;
}
