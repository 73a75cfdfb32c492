// Turns raw stack config into a StackSpec, or throws a ConfigError listing every problem, each
// naming the stack, the table and the bad value with its fix. Runs before any connection or SQL,
// in the CLI and in the Pulumi program alike.

import fs from "node:fs";
import path from "node:path";
import { MAX_PARTITIONS_AT_ONCE, partitionIntervalProblem, retentionProblem, subpartitionCountProblem, timeRangeProblem } from "./bounds";
import { cronScheduleProblem } from "./cron";
import { DdlError, parseTableDdl, type TableDdl } from "./ddl";
import { derivedNameProblem } from "./derived-names";
import { ConfigError, describe } from "./errors";
import { identifierProblem, qualifiedFunction } from "./identifiers";
import { unsupportedShape } from "./shape-support";
import { duplicateQueryNames, readQueryFiles, validateQueryList } from "./queries";
import { approxMillis, IntervalSyntaxError, parseInterval, type Interval } from "./interval";
import { EPOCH_UNITS, isEpochUnit, parseIdCount, unsafeWholeNumber, type EpochUnit, type IdCount } from "./span";
import type { DatabaseSpec, Declaration, SetShape, SubpartitionSpec, MaintenanceSpec, RawStackConfig, RolesSpec, SslMode, StackSpec, TableSpec } from "./types";

export const DEFAULTS = {
  premake: 4,
  retentionKeepTable: false,
  defaultPartition: true,
  infiniteTimePartitions: true,
  maintenance: { enabled: true, schedule: "0 * * * *", jobName: "partman-maintenance", analyze: false, lockTimeout: parseInterval("200ms"), maxLockWait: parseInterval("1 min") },
  database: "partman_stack",
  port: 5432,
  dockerPort: 55432,
  roles: { owner: "partman_owner", app: "partman_app" },
  sslmode: "require" as SslMode,
};

const TABLE_KEYS = [
  "name", "ddl", "control", "type", "interval", "premake", "retention", "retentionKeepTable",
  "retentionSchema", "startPartition", "defaultPartition", "infiniteTimePartitions", "allowDataLoss", "epoch", "uuidv7", "timeEncoder", "timeDecoder", "subpartition", "queries",
];
const SUBPARTITION_KEYS = ["control", "interval", "premake", "retention", "retentionKeepTable", "epoch"];
const MAINTENANCE_KEYS = ["enabled", "schedule", "jobName", "analyze", "lockTimeout", "maxLockWait"];
/** Bounds of maintenance.lockTimeout and maxLockWait: a lock wait longer than a minute is an outage,
 *  a budget longer than an hour a run that never ends. */
const LOCK_TIMEOUT_MS = { min: 10, max: 60_000 };
const MAX_LOCK_WAIT_MS = { max: 3_600_000 };
const DATABASE_KEYS: Record<DatabaseSpec["mode"], string[]> = {
  local: ["mode", "database", "partmanVersion"],
  docker: ["mode", "database", "port", "partmanVersion"],
  external: ["mode", "host", "port", "database", "user", "sslmode", "sslRootCert", "cronDatabase", "partmanVersion"],
};
export const SSL_MODES: SslMode[] = ["disable", "prefer", "require", "verify-ca", "verify-full"];
const TIME_TYPES = /^(timestamptz|timestamp( without time zone| with time zone)?|timestamp ?\(\d\)( with(out)? time zone)?|timestamptz ?\(\d\)|date)$/;
const ID_TYPES = /^(smallint|integer|int|int2|int4|int8|bigint)$/;
/** The largest value each integer type holds (bigint's beyond what a stack file's number can say). */
const ID_MAX: Record<string, number> = { smallint: 32767, int2: 32767, integer: 2147483647, int: 2147483647, int4: 2147483647 };
/** bigint's, for the names of its partitions; also of a column whose type is not known (no DDL file). */
const BIGINT_MAX = 9223372036854775807n;
const TOO_LARGE = `is more than ${Number.MAX_SAFE_INTEGER}, the largest whole number partman-stack reads exactly`;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** Collects problems with a common prefix, so each message says where it comes from. */
class Problems {
  readonly list: string[] = [];
  constructor(private readonly stack: string) {}
  add(where: string, message: string) {
    this.list.push(`stack "${this.stack}"${where ? `, ${where}` : ""}: ${message}`);
  }
}

export function validateStack(stack: string, root: string, raw: RawStackConfig): StackSpec {
  const problems = new Problems(stack);
  // The database first: its partmanVersion decides which pg_partman's names the tables' must fit.
  const databaseProblems = new Problems(stack);
  const database = validateDatabase(raw.database, root, databaseProblems);
  const declared = declaration(stack, root, raw, problems, database.partmanVersion);
  problems.list.push(...databaseProblems.list);
  // The declared version is the one created: a shape it cannot make is refused here, unconnected.
  const version = database.partmanVersion;
  for (const t of version ? declared.tables : []) {
    const unsupported = unsupportedShape(version!, t, "partmanVersion");
    if (unsupported) problems.add("", unsupported);
  }
  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return { ...declared, root, database };
}

/** Everything but where the database is: what a PartmanDatabase component is given, its server
 *  coming from other resources' outputs. `ddl` paths are relative to `root`. */
export function validateDeclaration(stack: string, root: string, raw: Omit<RawStackConfig, "database">): Declaration {
  const problems = new Problems(stack);
  const declared = declaration(stack, root, raw, problems, null);
  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return declared;
}

/** `partmanVersion`: the stack's, or null (the names are then checked for every supported major). */
function declaration(stack: string, root: string, raw: Omit<RawStackConfig, "database">, problems: Problems, partmanVersion: string | null): Declaration {
  return { stack, tables: validateTables(raw.tables, root, problems, partmanVersion), maintenance: validateMaintenance(raw.maintenance, problems), roles: validateRoles(raw.roles, problems) };
}

/** One table entry whose DDL arrives as text (a Pulumi resource's inputs), checked as the CLI
 *  checks it. Returns the problems with the table key each is about. */
export function validateTableEntry(stack: string, entry: Record<string, unknown>, ddlSql: string | null): { table: TableSpec | null; problems: { key: string; message: string }[] } {
  const problems = new Problems(stack);
  const where = `table ${typeof entry.name === "string" ? entry.name : "(unnamed)"}`;
  const table = validateTable(entry, where, () => ddlSql, problems, null);
  const prefix = `stack "${stack}", ${where}: `;
  return {
    table: problems.list.length === 0 ? table : null,
    problems: problems.list.map((message) => {
      const rest = message.startsWith(prefix) ? message.slice(prefix.length) : message;
      return { key: TABLE_KEYS.find((k) => rest.startsWith(`${k} `) || rest.startsWith(`${k}.`)) ?? "name", message };
    }),
  };
}

function validateRoles(raw: unknown, problems: Problems): RolesSpec {
  const d = DEFAULTS.roles;
  if (raw === undefined || raw === null) return { ...d };
  const p = (msg: string) => problems.add("partman-stack:roles", msg);
  if (!isObject(raw)) {
    p(`must be a mapping (owner, app), got ${describe(raw)}`);
    return { ...d };
  }
  unknownKeys(raw, ["owner", "app"], (k) => p(`unknown key "${k}" (known: owner, app)`));
  const roles = { owner: identifierString(raw, "owner", d.owner, p) ?? d.owner, app: identifierString(raw, "app", d.app, p) ?? d.app };
  if (roles.owner === roles.app) p(`owner and app must be different roles (the app role gets only DML)`);
  return roles;
}

function validateTables(raw: unknown, root: string, problems: Problems, partmanVersion: string | null): TableSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.add("partman-stack:tables", `must be a list of tables, got ${describe(raw)}`);
    return [];
  }
  const out: TableSpec[] = [];
  const seen = new Set<string>();
  raw.forEach((entry, i) => {
    const where = `table ${isObject(entry) && typeof entry.name === "string" ? entry.name : `#${i + 1}`}`;
    if (!isObject(entry)) {
      problems.add(where, `each entry of partman-stack:tables must be a mapping with name, ddl, control, interval, got ${describe(entry)}`);
      return;
    }
    const before = problems.list.length;
    const t = validateTable(entry, where, (ddl, p) => readDdl(ddl, root, p), problems, partmanVersion);
    if (t) {
      const p = (msg: string) => problems.add(where, msg);
      t.queries.push(...readQueryFiles(root, t, p));
      duplicateQueryNames(t.queries, p);
    }
    if (t && seen.has(t.name)) problems.add(where, `is declared twice; each table may appear once in partman-stack:tables`);
    if (t) seen.add(t.name);
    if (t && problems.list.length === before) out.push(t);
  });
  return out;
}

function validateTable(
  e: Record<string, unknown>,
  where: string,
  ddlText: (ddl: string, p: (m: string) => void) => string | null,
  problems: Problems,
  partmanVersion: string | null,
): TableSpec | null {
  const p = (msg: string) => problems.add(where, msg);
  unknownKeys(e, TABLE_KEYS, (k) => p(`unknown key "${k}" (known: ${TABLE_KEYS.join(", ")})`));

  const name = requiredString(e, "name", p);
  let schema = "";
  let table = "";
  if (name !== null) {
    const parts = name.split(".");
    if (parts.length !== 2) p(`name "${name}" must be schema-qualified, e.g. "public.${parts[parts.length - 1] || "events"}"`);
    else {
      [schema, table] = parts;
      for (const part of parts) {
        const why = identifierProblem(part);
        if (why) p(`name "${name}" is not a valid table name: "${part}": ${why}`);
      }
    }
  }

  // Optional: without it, only an existing table can be managed (migrate copies its definition).
  const ddl = e.ddl === undefined || e.ddl === null ? null : requiredString(e, "ddl", p);
  let ddlSql: string | null = null;
  let parsed: TableDdl | null = null;
  const text = ddl !== null ? ddlText(ddl, p) : null;
  if (ddl !== null && text !== null) {
    ddlSql = text;
    try {
      parsed = parseTableDdl(ddlSql);
    } catch (err) {
      if (!(err instanceof DdlError)) throw err;
      p(`ddl ${ddl}: ${err.message}`);
    }
  }

  const control = requiredString(e, "control", p);
  if (control !== null) {
    const why = identifierProblem(control);
    if (why) p(`control "${control}" is not a valid column name: ${why}`);
  }
  // The control column's type decides the form of interval, retention and startPartition; without a
  // DDL file (a live table to migrate) the interval's form does.
  const controlType = parsed && control !== null ? parsed.columns.find((c) => c.name === control)?.type ?? null : null;
  const epoch = epochValue(e.epoch, controlType, p);
  const timeCodec = timeCodecValue(e, controlType, schema, p);
  const type = typeValue(e, controlType, p);
  const kind: TableSpec["kind"] =
    (e.epoch !== undefined && e.epoch !== null) || timeCodec ? "time" : controlType !== null ? (ID_TYPES.test(controlType) ? "id" : "time") : type === "list" || parseIdCount(e.interval) ? "id" : "time";
  const column = controlType !== null ? `control column ${control} is ${controlType}` : type === "list" ? `type is list` : `interval is a number`;
  const premake = premakeValue(e.premake, `partitions made ahead of ${type === "list" ? "the highest value" : kind === "id" ? "the highest id" : "now"}`, p);
  const retentionKeepTable = bool(e, "retentionKeepTable", DEFAULTS.retentionKeepTable, p);
  const defaultPartition = bool(e, "defaultPartition", DEFAULTS.defaultPartition, p);
  const infiniteTimePartitions = bool(e, "infiniteTimePartitions", DEFAULTS.infiniteTimePartitions, p);
  const allowDataLoss = bool(e, "allowDataLoss", false, p);
  const queries = validateQueryList(e.queries, { schema, table }, p);

  let retentionSchema: string | null = null;
  if (e.retentionSchema !== undefined && e.retentionSchema !== null) {
    if (typeof e.retentionSchema !== "string") p(`retentionSchema ${describe(e.retentionSchema)} must be a schema name`);
    else {
      const why = identifierProblem(e.retentionSchema);
      if (why) p(`retentionSchema "${e.retentionSchema}" is not a valid schema name: ${why}`);
      else if (e.retentionSchema === schema) p(`retentionSchema "${e.retentionSchema}" is the table's own schema; name a separate archive schema, e.g. "archive"`);
      else retentionSchema = e.retentionSchema;
    }
    if (e.retention === undefined || e.retention === null) p(`retentionSchema is set but retention is not; set retention too, or remove retentionSchema`);
  }

  let startPartition: string | null = null;
  const limit = idLimit(controlType);
  if (e.startPartition !== undefined && e.startPartition !== null && kind === "id") {
    const start = parseIdCount(e.startPartition);
    if (unsafeWholeNumber(e.startPartition)) p(`startPartition ${describe(e.startPartition)} ${TOO_LARGE}: write a smaller startPartition`);
    else if (start && limit && start.ids > limit.max) p(`startPartition ${start.text} is more than a ${limit.type} column holds (${limit.max}): write a smaller startPartition, or make the control column a bigint`);
    else if (!start || start.ids < 0) p(`startPartition ${describe(e.startPartition)} must be a whole number ≥ 0 on ${type === "list" ? "a list" : "an integer-range"} set (${column}): the ${type === "list" ? "value" : "id"} the first partition holds, e.g. startPartition: ${type === "list" ? 1 : 0}`);
    else startPartition = start.text;
  } else if (e.startPartition !== undefined && e.startPartition !== null) {
    const v = e.startPartition instanceof Date ? e.startPartition.toISOString() : e.startPartition;
    if (typeof v !== "string" || !TIMESTAMP.test(v) || Number.isNaN(Date.parse(v))) {
      p(`startPartition ${describe(e.startPartition)} must be a timestamp, e.g. "2026-01-01" or "2026-01-01T00:00:00Z"`);
    } else startPartition = v;
  }

  if (parsed && ddl !== null && name !== null && schema && control !== null) checkDdl(parsed, ddl, schema, table, control, timeCodec !== null, type ?? "range", p);
  const spans = spansOf(e, kind, type ?? "range", limit, column, epoch, timeCodec ?? null, p);
  const subpartition = spans && control !== null ? subpartitionValue(e.subpartition, parsed, control, spans, p) : null;
  // Only false is refused: true is the default, and what the Pulumi component passes for every table.
  // With time sub-partitions it is theirs: false stops making days in ranges no rows reach any more.
  if (kind === "id" && e.infiniteTimePartitions === false && subpartition?.kind !== "time") {
    p(`infiniteTimePartitions false means nothing on an integer-range set (${column}) without time sub-partitions: its partitions are made ahead of the highest id, never of now(), so no new ids means no new partitions already; remove infiniteTimePartitions`);
  }
  if (e.ddl !== undefined && e.ddl !== null && ddl === null) return null;
  if (name === null || control === null || spans === null || premake === null || epoch === undefined || timeCodec === undefined || type === undefined || subpartition === undefined) return null;
  const spec: TableSpec = {
    name, schema, table, ddl, ddlSql, control, premake, ...spans,
    retentionKeepTable, retentionSchema, startPartition, defaultPartition, infiniteTimePartitions, allowDataLoss, subpartition, queries,
  };
  // Before any SQL: what create_parent and create_sub_parent would make, and the names of it all.
  // "Now" is this machine's clock: the server's is not known before connecting.
  const now = new Date();
  const range = spec.kind === "time" ? timeRangeProblem(spec, now) : null;
  const subs = subpartition && !range ? subpartitionCountProblem(spec, subpartition, now) : null;
  const typeOf = (c: string) => parsed?.columns.find((x) => x.name === c)?.type ?? null;
  const idMax = (c: string) => BigInt(idLimit(typeOf(c))?.max ?? BIGINT_MAX);
  const names = derivedNameProblem(spec, partmanVersion, { set: idMax(control), sub: subpartition ? idMax(subpartition.control) : BIGINT_MAX });
  for (const problem of [range, subs, names]) if (problem) p(problem);
  return range || subs || names ? null : spec;
}

/** `subpartition`: undefined when invalid (reported), null when absent. Its control column is
 *  checked against the DDL file as the top level's is, and its partitions must be narrower than the
 *  set's when both are by time or both by ids (pg_partman's create_sub_parent requires it). */
function subpartitionValue(v: unknown, parsed: TableDdl | null, topControl: string, top: SetShape, outer: (m: string) => void): SubpartitionSpec | null | undefined {
  if (v === undefined || v === null) return null;
  const p = (msg: string) => outer(`subpartition.${msg}`);
  if (!isObject(v)) {
    outer(`subpartition ${describe(v)} must be a mapping (${SUBPARTITION_KEYS.join(", ")}), e.g. subpartition: { control: created_at, interval: "1 day" }`);
    return undefined;
  }
  let reported = false;
  const q = (msg: string) => {
    reported = true;
    p(msg);
  };
  unknownKeys(v, SUBPARTITION_KEYS, (k) => q(`${k}: unknown key (known: ${SUBPARTITION_KEYS.join(", ")})`));
  const control = requiredString(v, "control", q);
  if (control !== null) {
    const why = identifierProblem(control);
    if (why) q(`control "${control}" is not a valid column name: ${why}`);
    else if (control === topControl) q(`control "${control}" is the table's own control column; sub-partition by another column (e.g. a time column inside ranges of ids), or remove subpartition`);
  }
  const column = parsed && control !== null ? parsed.columns.find((c) => c.name === control) ?? null : null;
  if (parsed && control !== null && !column) q(`control "${control}" is not a column of the ddl file (columns: ${parsed.columns.map((c) => c.name).join(", ")})`);
  const controlType = column?.type ?? null;
  if (column) {
    if (!TIME_TYPES.test(column.type) && !ID_TYPES.test(column.type)) q(`control column ${control} is ${column.type}; sub-partitions need timestamptz, timestamp or date (by time) or smallint, integer or bigint (by ranges of ids)`);
    if (!column.notNull) q(`control column ${control} must be NOT NULL (pg_partman requires it); add NOT NULL in the ddl file`);
    if (parsed && parsed.primaryKey.length > 0 && !parsed.primaryKey.includes(control!)) {
      q(`control column ${control}: the primary key (${parsed.primaryKey.join(", ")}) must include it (PostgreSQL requires every partition key in it); add it to the primary key`);
    }
  }
  const epoch = epochValue(v.epoch, controlType, q);
  const kind: SetShape["kind"] = (v.epoch !== undefined && v.epoch !== null) ? "time" : controlType !== null ? (ID_TYPES.test(controlType) ? "id" : "time") : parseIdCount(v.interval) ? "id" : "time";
  const described = controlType !== null ? `control column ${control} is ${controlType}` : `interval is a number`;
  const premake = premakeValue(v.premake, "sub-partitions made ahead in each partition", q);
  const retentionKeepTable = bool(v, "retentionKeepTable", DEFAULTS.retentionKeepTable, q);
  const spans = spansOf(v, kind, "range", idLimit(controlType), described, epoch, null, q);
  if (spans && spans.kind === "time" && top.kind === "time") {
    if (approxMillis(spans.interval) >= approxMillis(top.interval)) {
      q(`interval "${spans.interval.text}" must be shorter than the table's interval "${top.interval.text}": each partition is split into sub-partitions, e.g. interval: "1 day" inside "1 month"`);
    } else if (spans.interval.days === 7 && spans.interval.months === 0 && spans.interval.microseconds === 0) {
      q(`interval "${spans.interval.text}": weeks do not divide months or years (pg_partman refuses weekly sub-partitions in a longer interval); use "1 day"`);
    }
  }
  if (spans && spans.kind === "id" && top.kind === "id" && spans.interval.ids >= top.interval.ids) {
    q(`interval ${spans.interval.text} must be smaller than the table's interval ${top.interval.text}: each partition of ids is split into sub-partitions, e.g. interval: ${Math.max(1, Math.floor(top.interval.ids / 10))}`);
  }
  if (reported || control === null || spans === null || premake === null || epoch === undefined) return undefined;
  const shape: SetShape = spans.kind === "time" ? { kind: "time", interval: spans.interval, retention: spans.retention, epoch: spans.epoch } : spans;
  return { ...shape, control, premake, retentionKeepTable };
}

/** `type`: range (the default) or list, one partition per value of an integer control column;
 *  undefined when invalid (reported). */
function typeValue(e: Record<string, unknown>, controlType: string | null, p: (m: string) => void): "range" | "list" | undefined {
  const v = e.type ?? "range";
  if (v !== "range" && v !== "list") {
    p(`type ${describe(e.type)} must be range (partitions holding ranges of the control column, the default) or list (one partition per integer value)`);
    return undefined;
  }
  if (v === "range") return v;
  const shapes = ["epoch", "uuidv7", "timeEncoder", "timeDecoder"].filter((k) => e[k] !== undefined && e[k] !== null && e[k] !== false);
  if (shapes.length > 0) {
    p(`type: list partitions by integer values, but ${shapes.join(" and ")} make${shapes.length === 1 ? "s" : ""} this a time set: remove ${shapes.join(" and ")}, or remove type: list`);
    return undefined;
  }
  if (controlType !== null && !ID_TYPES.test(controlType)) {
    p(`type: list needs a smallint, integer or bigint control column (one partition per value), but ${e.control} is ${controlType}: remove type: list to partition by ranges`);
    return undefined;
  }
  return v;
}

/** `epoch`: undefined when invalid (reported), null when absent. Epoch times need a bigint column
 *  (an integer one holds seconds only until 2038). */
function epochValue(v: unknown, controlType: string | null, p: (m: string) => void): EpochUnit | null | undefined {
  if (v === undefined || v === null) return null;
  const units = Object.keys(EPOCH_UNITS).join(", ");
  if (!isEpochUnit(v)) {
    p(`epoch ${describe(v)} must be one of ${units}: the unit of the epoch times the control column holds`);
    return undefined;
  }
  if (controlType === null || /^(bigint|int8)$/.test(controlType) || (v === "seconds" && /^(integer|int|int4)$/.test(controlType))) return v;
  p(`epoch: ${v} needs a bigint control column${v === "seconds" ? " (or integer)" : ""}, but it is ${controlType}: make it bigint, or remove epoch to partition by ${TIME_TYPES.test(controlType) ? "its times" : "ranges of ids"}`);
  return undefined;
}

type TimeCodec = (TableSpec & { kind: "time" })["timeCodec"];

/** `uuidv7`, or `timeEncoder` with `timeDecoder`: undefined when invalid (reported), null when
 *  absent. The names are interpolated into SQL (by pg_partman too), so only identifiers pass, and a
 *  bare name is the table's schema's (qualifiedFunction). */
function timeCodecValue(e: Record<string, unknown>, controlType: string | null, schema: string, p: (m: string) => void): TimeCodec | undefined {
  const named = e.timeEncoder !== undefined || e.timeDecoder !== undefined;
  if (e.uuidv7 !== undefined && typeof e.uuidv7 !== "boolean") {
    p(`uuidv7 ${describe(e.uuidv7)} must be true or false`);
    return undefined;
  }
  if (!e.uuidv7 && !named) return null;
  if (e.uuidv7 && named) {
    p(`uuidv7: true uses pg_partman's uuid7_time_encoder and uuid7_time_decoder; remove timeEncoder and timeDecoder, or uuidv7`);
    return undefined;
  }
  if (controlType !== null && !/^(uuid|text)$/.test(controlType)) {
    p(`${e.uuidv7 ? "uuidv7" : "timeEncoder/timeDecoder"} needs a uuid${e.uuidv7 ? "" : " or text"} control column, but it is ${controlType}: remove ${e.uuidv7 ? "uuidv7" : "them"} to partition by ${TIME_TYPES.test(controlType) ? "its times" : "ranges of ids"}`);
    return undefined;
  }
  if (e.uuidv7) {
    if (controlType === "text") p(`uuidv7 needs a uuid control column, but it is text: make it uuid, or name your own timeEncoder and timeDecoder`);
    return controlType === "text" ? undefined : "uuidv7";
  }
  const name = (key: "timeEncoder" | "timeDecoder", what: string): string | null => {
    const v = e[key];
    const example = `e.g. ${key}: "app.${key === "timeEncoder" ? "key_from_time" : "time_from_key"}"`;
    if (v === undefined || v === null) {
      p(`${key} is missing: timeEncoder and timeDecoder go together; name a function ${what}, ${example}`);
      return null;
    }
    const why = typeof v !== "string" ? "not text" : v.split(".").length > 2 ? "more than schema.function" : v.split(".").map(identifierProblem).find((x) => x) ?? null;
    if (why === null) return qualifiedFunction(v as string, schema);
    p(`${key} ${describe(v)} must name a function ${what} (schema.function or function; ${why}), ${example}`);
    return null;
  };
  const encoder = name("timeEncoder", "taking a timestamptz and returning the control column's value");
  const decoder = name("timeDecoder", "taking the control column's value as text and returning a timestamptz");
  return encoder && decoder ? { encoder, decoder } : undefined;
}

/** interval and retention, in the terms of the set's kind; `limit`: the largest value of an integer
 *  control column's type, when known. */
function spansOf(e: Record<string, unknown>, kind: SetShape["kind"], type: "range" | "list", limit: IdLimit | null, column: string, epoch: EpochUnit | null | undefined, timeCodec: TimeCodec, p: (m: string) => void) {
  if (kind === "time") return timeSpans(e, column, epoch, timeCodec, p);
  return type === "list" ? listSpans(e, column, limit, p) : idSpans(e, column, limit, p);
}

/** interval and retention of a time set: PostgreSQL intervals. */
function timeSpans(e: Record<string, unknown>, column: string, epoch: EpochUnit | null | undefined, timeCodec: TimeCodec, p: (m: string) => void): Pick<TableSpec & { kind: "time" }, "kind" | "interval" | "retention" | "epoch" | "timeCodec"> | null {
  const holds = epoch ? `control column holds epoch ${epoch}` : column;
  for (const key of ["interval", "retention"]) {
    if (typeof e[key] === "number") p(`${key} ${e[key]} is a number of ids, but ${holds}: write a PostgreSQL interval such as "1 day"${epoch ? "" : " (or partition by a smallint, integer or bigint column)"}`);
  }
  const bounded = (i: Interval | null, problem: (key: string, i: Interval) => string | null, key: string) => {
    const why = i && problem(key, i);
    if (why) p(why);
    return why ? null : i;
  };
  const interval = bounded(typeof e.interval === "number" ? null : intervalValue(e, "interval", true, p), partitionIntervalProblem, "interval");
  const retention = bounded(typeof e.retention === "number" ? null : intervalValue(e, "retention", false, p), retentionProblem, "retention");
  return interval === null ? null : { kind: "time", interval, retention, epoch: epoch ?? null, timeCodec };
}

type IdSpans = Pick<Extract<SetShape, { kind: "id" }>, "kind" | "type" | "interval" | "retention">;
type IdLimit = { type: string; max: number };

/** The largest value of an integer control column's type, when a stack file's number can exceed it. */
function idLimit(type: string | null): IdLimit | null {
  return type && ID_MAX[type] ? { type, max: ID_MAX[type] } : null;
}

/** interval and retention of a list set: one value per partition, and a count of values kept. */
function listSpans(e: Record<string, unknown>, column: string, limit: IdLimit | null, p: (m: string) => void): IdSpans | null {
  if (e.interval !== undefined && e.interval !== null && parseIdCount(e.interval)?.ids !== 1) {
    p(`interval ${describe(e.interval)} must be 1 on a list set (one partition per value); remove interval, or type: range to partition by ranges of ids`);
    return null;
  }
  const spans = idSpans({ ...e, interval: 1 }, column, limit, p, "list");
  return spans && { ...spans, type: "list" };
}

/** interval and retention of an integer-range set: whole numbers of ids (a list set's retention:
 *  of values). */
function idSpans(e: Record<string, unknown>, column: string, limit: IdLimit | null, p: (m: string) => void, type: "range" | "list" = "range"): IdSpans | null {
  const set = type === "list" ? "a list set" : "an integer-range set";
  const count = (key: string, what: string, example: string): IdCount | null => {
    const v = e[key];
    const n = parseIdCount(v);
    if (unsafeWholeNumber(v)) {
      p(`${key} ${describe(v)} ${TOO_LARGE}: write a smaller ${key}`);
      return null;
    }
    if (n && n.ids >= 1 && limit && n.ids > limit.max) {
      p(`${key} ${n.text} is more than a ${limit.type} column holds (${limit.max}): write a smaller ${key}, or make the control column a bigint`);
      return null;
    }
    if (n && n.ids >= 1) return n;
    if (typeof v === "string" && !/^\s*-?[\d.]+\s*$/.test(v)) p(`${key} ${describe(v)} is a time interval, but ${column}: ${set}'s ${key} is ${what}, e.g. ${key}: ${example}`);
    else p(`${key} ${describe(v)} must be a whole number ≥ 1 on ${set} (${column}): ${what}, e.g. ${key}: ${example}`);
    return null;
  };
  if (e.interval === undefined || e.interval === null) {
    p(`interval is required: on an integer-range set the number of ids per partition, e.g. interval: 100000`);
    return null;
  }
  const interval = count("interval", "the number of ids per partition", "100000");
  let retention: IdCount | null = null;
  if (e.retention !== undefined && e.retention !== null) {
    retention = type === "list" ? count("retention", "how many values below the highest one to keep", "100") : count("retention", "how many ids below the highest one to keep", "1000000");
    if (retention && interval && retention.ids % interval.ids !== 0) {
      const whole = Math.max(1, Math.round(retention.ids / interval.ids));
      p(`retention ${retention.text} is not a multiple of interval ${interval.text}: partitions expire whole, so write a multiple, e.g. retention: ${whole * interval.ids} (${whole} partition(s) of ids)`);
      retention = null;
    }
  }
  return interval === null ? null : { kind: "id", type: "range", interval, retention };
}

/** The DDL file must create the declared table, partitioned by range (or list) on the control column. */
function checkDdl(d: TableDdl, ddl: string, schema: string, table: string, control: string, timeCodec: boolean, type: "range" | "list", p: (m: string) => void) {
  if (d.schema === null) p(`ddl ${ddl}: CREATE TABLE ${d.table} must be schema-qualified (${schema}.${table}), so it does not depend on search_path`);
  else if (d.schema !== schema || d.table !== table) p(`ddl ${ddl} creates ${d.schema}.${d.table}, but the entry declares ${schema}.${table}`);
  const col = d.columns.find((c) => c.name === control);
  if (!col) {
    p(`control "${control}" is not a column of ${ddl} (columns: ${d.columns.map((c) => c.name).join(", ")})`);
    return;
  }
  if (!TIME_TYPES.test(col.type) && !ID_TYPES.test(col.type) && !(timeCodec && /^(uuid|text)$/.test(col.type))) {
    p(`control column ${control} is ${col.type}; partitioning needs timestamptz, timestamp or date (by time), smallint, integer or bigint (by ranges of ids), or uuid with uuidv7: true (by the time in UUIDv7 keys)`);
  }
  if (!col.notNull) p(`control column ${control} must be NOT NULL (pg_partman requires it); add NOT NULL in ${ddl}`);
  const by = `PARTITION BY ${type.toUpperCase()} (${control})`;
  if (!d.partition) p(`ddl ${ddl}: CREATE TABLE must end with ${by}`);
  else if (d.partition.strategy !== type || d.partition.columns.length !== 1 || d.partition.columns[0] !== control) {
    p(`ddl ${ddl} is PARTITION BY ${d.partition.strategy.toUpperCase()} (${d.partition.columns.join(", ")}), declared ${type === "list" ? "type: list, " : ""}control is ${control}: write ${by}${type === "range" && d.partition.strategy === "list" ? ", or declare type: list" : ""}`);
  }
  if (d.primaryKey.length > 0 && !d.primaryKey.includes(control)) {
    p(`ddl ${ddl}: the primary key (${d.primaryKey.join(", ")}) must include the control column ${control} (PostgreSQL requires it on partitioned tables)`);
  }
}

/** The DDL path must name a file inside the project, also after following symlinks. */
function readDdl(ddl: string, root: string, p: (m: string) => void): string | null {
  const realRoot = fs.realpathSync(root);
  const resolved = path.resolve(root, ddl);
  const inside = (f: string, r: string) => !path.relative(r, f).startsWith("..") && !path.isAbsolute(path.relative(r, f));
  if (path.isAbsolute(ddl) || !inside(resolved, root)) {
    p(`ddl "${ddl}" is outside the project; give a path relative to the project root, e.g. "sql/tables/<table>.sql"`);
    return null;
  }
  if (!fs.existsSync(resolved)) {
    p(`ddl "${ddl}" does not exist (looked for ${resolved}); create it with the table's CREATE TABLE … PARTITION BY RANGE`);
    return null;
  }
  const real = fs.realpathSync(resolved);
  if (!inside(real, realRoot)) {
    p(`ddl "${ddl}" is a link to ${real}, outside the project; keep the DDL file in the project`);
    return null;
  }
  if (!fs.statSync(real).isFile()) {
    p(`ddl "${ddl}" is not a file`);
    return null;
  }
  return fs.readFileSync(real, "utf8");
}

function validateMaintenance(raw: unknown, problems: Problems): MaintenanceSpec {
  const d = DEFAULTS.maintenance;
  if (raw === undefined || raw === null) return { ...d };
  const p = (msg: string) => problems.add("partman-stack:maintenance", msg);
  if (!isObject(raw)) {
    p(`must be a mapping (${MAINTENANCE_KEYS.join(", ")}), got ${describe(raw)}`);
    return { ...d };
  }
  unknownKeys(raw, MAINTENANCE_KEYS, (k) => p(`unknown key "${k}" (known: ${MAINTENANCE_KEYS.join(", ")})`));
  let schedule = d.schedule;
  if (raw.schedule !== undefined) {
    const why = typeof raw.schedule === "string" ? cronScheduleProblem(raw.schedule) : `${describe(raw.schedule)} is not a string`;
    if (why) p(`schedule ${why}`);
    else schedule = (raw.schedule as string).trim().replace(/\s+/g, " ");
  }
  let jobName = d.jobName;
  if (raw.jobName !== undefined) {
    if (typeof raw.jobName !== "string" || !/^[A-Za-z0-9_.:-]{1,63}$/.test(raw.jobName)) {
      p(`jobName ${describe(raw.jobName)} must be 1-63 letters, digits, "_", ".", ":" or "-"`);
    } else jobName = raw.jobName;
  }
  const lockTimeout = durationValue(raw, "lockTimeout", d.lockTimeout, p);
  const maxLockWait = durationValue(raw, "maxLockWait", d.maxLockWait, p);
  const ms = approxMillis;
  if (ms(lockTimeout) < LOCK_TIMEOUT_MS.min || ms(lockTimeout) > LOCK_TIMEOUT_MS.max) {
    p(`lockTimeout "${lockTimeout.text}" must be between ${LOCK_TIMEOUT_MS.min}ms and 1 min: it is how long one attempt at a table's lock may hold other sessions up (default "${d.lockTimeout.text}")`);
  } else if (ms(maxLockWait) < ms(lockTimeout) || ms(maxLockWait) > MAX_LOCK_WAIT_MS.max) {
    p(`maxLockWait "${maxLockWait.text}" must be at least lockTimeout ("${lockTimeout.text}") and at most 1 hour: it is how long maintenance tries a table's locks before deferring it to the next run (default "${d.maxLockWait.text}")`);
  }
  return {
    enabled: bool(raw, "enabled", d.enabled, p),
    schedule,
    jobName,
    analyze: bool(raw, "analyze", d.analyze, p),
    lockTimeout,
    maxLockWait,
  };
}

/** A duration as a PostgreSQL interval ("200ms", "5 s", "1 min"); months and days are refused. */
function durationValue(o: Record<string, unknown>, key: string, fallback: Interval, p: (m: string) => void): Interval {
  const v = intervalValue(o, key, false, p, `"200ms", "5 s" or "1 min"`);
  if (!v) return fallback;
  if (v.months > 0 || v.days > 0) {
    p(`${key} "${v.text}" must be a duration of milliseconds, seconds or minutes, e.g. "200ms" or "30 s"`);
    return fallback;
  }
  return v;
}

function validateDatabase(raw: unknown, root: string, problems: Problems): DatabaseSpec {
  const fallback: DatabaseSpec = { mode: "local", database: DEFAULTS.database, partmanVersion: null };
  if (raw === undefined || raw === null) return fallback;
  const p = (msg: string) => problems.add("partman-stack:database", msg);
  if (!isObject(raw)) {
    p(`must be a mapping with mode: local, docker or external, got ${describe(raw)}`);
    return fallback;
  }
  const mode = raw.mode ?? "local";
  if (mode !== "local" && mode !== "docker" && mode !== "external") {
    p(`mode ${describe(mode)} must be local (the embedded cluster), docker (a container the Pulumi program provisions) or external (an existing server)`);
    return fallback;
  }
  if (raw.password !== undefined) {
    p(`password must not be in a stack file: set PGPASSWORD in the environment (or pass --database-url) for the CLI, and \`pulumi config set --secret partman-stack:databasePassword\` for the Pulumi program`);
  }
  unknownKeys(raw, [...DATABASE_KEYS[mode], "password"], (k) => p(`unknown key "${k}" for mode ${mode} (known: ${DATABASE_KEYS[mode].join(", ")})`));

  let partmanVersion: string | null = null;
  if (raw.partmanVersion !== undefined && raw.partmanVersion !== null) {
    const v = String(raw.partmanVersion);
    if (!/^\d+\.\d+\.\d+$/.test(v)) p(`partmanVersion ${describe(raw.partmanVersion)} must be a full extension version such as "5.2.4" (quote it in YAML)`);
    else partmanVersion = v;
  }
  const database = identifierString(raw, "database", mode === "external" ? null : DEFAULTS.database, p);
  const port = portValue(raw.port, mode === "docker" ? DEFAULTS.dockerPort : DEFAULTS.port, p);
  if (mode === "local") return { mode, database: database ?? DEFAULTS.database, partmanVersion };
  if (mode === "docker") return { mode, database: database ?? DEFAULTS.database, port, partmanVersion };

  const host = typeof raw.host === "string" && raw.host.trim() !== "" ? raw.host.trim() : null;
  if (!host) p(`host is required for mode external (the server's address)`);
  const user = identifierString(raw, "user", null, p);
  let sslmode = DEFAULTS.sslmode;
  if (raw.sslmode !== undefined) {
    if (!SSL_MODES.includes(raw.sslmode as SslMode)) p(`sslmode ${describe(raw.sslmode)} must be one of ${SSL_MODES.join(", ")}`);
    else sslmode = raw.sslmode as SslMode;
  }
  let sslRootCert: string | null = null;
  if (raw.sslRootCert !== undefined && raw.sslRootCert !== null) {
    if (typeof raw.sslRootCert !== "string" || raw.sslRootCert.trim() === "") p(`sslRootCert ${describe(raw.sslRootCert)} must be the path of a PEM file, relative to the project root`);
    else if (sslmode === "disable") p(`sslRootCert is given but sslmode is disable, which never uses it: set sslmode to verify-full (or verify-ca), or remove sslRootCert`);
    else sslRootCert = path.resolve(root, raw.sslRootCert);
  }
  const cronDatabase = identifierString(raw, "cronDatabase", "postgres", p) ?? "postgres";
  return { mode, host: host ?? "", port, database: database ?? "", user: user ?? "", sslmode, sslRootCert, cronDatabase, partmanVersion };
}

function portValue(v: unknown, fallback: number, p: (m: string) => void): number {
  const n = positiveInteger(v, fallback, () => {});
  if (n === null || n > 65535) {
    p(`port ${describe(v)} must be a TCP port (1-65535)`);
    return fallback;
  }
  return n;
}

function identifierString(o: Record<string, unknown>, key: string, fallback: string | null, p: (m: string) => void): string | null {
  const v = o[key];
  if (v === undefined || v === null) {
    if (fallback === null) p(`${key} is required`);
    return fallback;
  }
  if (typeof v !== "string") {
    p(`${key} ${describe(v)} must be a string`);
    return null;
  }
  // Role and database names are used as identifiers; the same rule keeps them out of SQL injection.
  const why = identifierProblem(v);
  if (why) {
    p(`${key} "${v}" is not accepted: ${why}`);
    return null;
  }
  return v;
}

function requiredString(o: Record<string, unknown>, key: string, p: (m: string) => void): string | null {
  const v = o[key];
  if (typeof v === "string" && v.trim() !== "") return v.trim();
  p(v === undefined || v === null ? `${key} is required` : `${key} ${describe(v)} must be a non-empty string`);
  return null;
}

function intervalValue(o: Record<string, unknown>, key: string, required: boolean, p: (m: string) => void, examples = `"90 days", "1 week" or "13 months"`): Interval | null {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) p(`${key} is required: a PostgreSQL interval such as "1 day", "1 week" or "1 month"`);
    return null;
  }
  if (typeof v !== "string") {
    p(`${key} ${describe(v)} must be a PostgreSQL interval written as text, e.g. "90 days"`);
    return null;
  }
  try {
    return parseInterval(v);
  } catch (err) {
    if (!(err instanceof IntervalSyntaxError)) throw err;
    p(`${key} "${v}" is not a PostgreSQL interval: ${err.message}; write e.g. ${examples}`);
    return null;
  }
}

/** Maintenance makes a set's premake partitions in one transaction (MAX_PARTITIONS_AT_ONCE). */
function premakeValue(v: unknown, what: string, p: (m: string) => void): number | null {
  const premake = positiveInteger(v, DEFAULTS.premake, (x) => p(`premake ${describe(x)} must be a whole number ≥ 1 (${what}), e.g. premake: 4`));
  if (premake === null || premake <= MAX_PARTITIONS_AT_ONCE) return premake;
  p(`premake ${premake} is more than ${MAX_PARTITIONS_AT_ONCE} (${what}): maintenance makes them in one transaction, each a table whose locks are held until it commits; declare a wider interval, or a smaller premake`);
  return null;
}

/** Whole numbers ≥ 1; digit strings too, since `pulumi config set --path` may store text. */
function positiveInteger(v: unknown, fallback: number, bad: (v: unknown) => void): number | null {
  if (v === undefined || v === null) return fallback;
  const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    bad(v);
    return null;
  }
  return n;
}

function bool(o: Record<string, unknown>, key: string, fallback: boolean, p: (m: string) => void): boolean {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "false") return v === "true";
  p(`${key} ${describe(v)} must be true or false`);
  return fallback;
}

function unknownKeys(o: Record<string, unknown>, known: string[], report: (k: string) => void) {
  for (const k of Object.keys(o)) if (!known.includes(k)) report(k);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
