// Retention is what deletes data. Which partitions the next maintenance run drops under a
// part_config, and which of those a config change would newly drop: what `plan`, `apply` and the
// Pulumi resource's check refuse without `allowDataLoss: true`.

import { shiftTime, tryParseInterval } from "../config/interval";
import { parseIdCount } from "../config/span";
import type { PartitionInfo, TableState } from "./introspect";
import { RETENTION_COLUMNS, type ManagedConfig } from "../partman/config";
import { fmt } from "./value-text";

export interface DataLoss {
  partitions: PartitionInfo[];
  bytes: number;
  /** Rows in them: counted for small partitions, estimated for the others (see PartitionInfo.rows). */
  rows: number;
  /** Every partition's rows were counted exactly. */
  rowsExact: boolean;
  /** Partitions too big to count that were never analyzed: their rows are not in `rows`. */
  unknownRows: number;
  /** The changed settings that cause it, e.g. `retention (none) → "30 days"`. */
  because: string[];
}

type RetentionConfig = Pick<ManagedConfig, (typeof RETENTION_COLUMNS)[number]>;

/** Where a set's retention is measured from: now() for a time set, its highest id for an
 *  integer-range set (null while it holds no row: nothing expires). */
export type SetPosition = { kind: "time"; now: Date } | { kind: "id"; maxId: number | null };

export function positionOf(ts: Pick<TableState, "kind" | "maxId">, now: Date): SetPosition {
  return ts.kind === "id" ? { kind: "id", maxId: ts.maxId } : { kind: "time", now };
}

/** The partitions past the horizon of `retention`, as partman_stack.expired_partitions picks them
 *  (sql/maintenance/partition_bounds.sql): a time set's whose upper bound is older than
 *  now − retention, an integer-range set's whose ids all lie below max(id) − retention; never the
 *  last remaining partition. */
export function pastHorizon(retention: string | null, partitions: PartitionInfo[], at: SetPosition): PartitionInfo[] {
  const bounded = partitions.filter((p) => !p.isDefault && p.to !== null);
  let expired: PartitionInfo[];
  if (at.kind === "id") {
    const ids = parseIdCount(retention);
    if (!ids || at.maxId === null) return [];
    expired = bounded.filter((p) => Number(p.to) <= at.maxId! - ids.ids);
  } else {
    const interval = tryParseInterval(retention);
    if (!interval) return [];
    const horizon = shiftTime(at.now, interval, -1);
    expired = bounded.filter((p) => new Date(p.to!) < horizon);
  }
  return expired.length === bounded.length ? expired.slice(0, -1) : expired;
}

/** Partitions the next maintenance run drops: past the horizon, neither kept
 *  (retention_keep_table) nor moved (retention_schema). */
export function partitionsDropped(cfg: RetentionConfig, partitions: PartitionInfo[], at: SetPosition): PartitionInfo[] {
  if (cfg.retention_keep_table || cfg.retention_schema) return [];
  return pastHorizon(cfg.retention, partitions, at);
}

export function dataLoss(current: RetentionConfig, desired: RetentionConfig, partitions: PartitionInfo[], at: SetPosition): DataLoss | null {
  const before = new Set(partitionsDropped(current, partitions, at).map((p) => p.name));
  const lost = partitionsDropped(desired, partitions, at).filter((p) => !before.has(p.name));
  if (lost.length === 0) return null;
  const because = RETENTION_COLUMNS.filter((k) => current[k] !== desired[k])
    .map((k) => `${k} ${fmt(current[k])} → ${fmt(desired[k])}`);
  return {
    partitions: lost,
    bytes: lost.reduce((n, p) => n + p.bytes, 0),
    rows: lost.reduce((n, p) => n + (p.rows ?? 0), 0),
    rowsExact: lost.every((p) => p.rowsExact),
    unknownRows: lost.filter((p) => p.rows === null).length,
    because,
  };
}

/** The losses of several sets (the sub-parents of one set) as one. */
export function mergeLosses(losses: (DataLoss | null)[]): DataLoss | null {
  const found = losses.filter((l): l is DataLoss => l !== null);
  if (found.length === 0) return null;
  return {
    partitions: found.flatMap((l) => l.partitions),
    bytes: found.reduce((n, l) => n + l.bytes, 0),
    rows: found.reduce((n, l) => n + l.rows, 0),
    rowsExact: found.every((l) => l.rowsExact),
    unknownRows: found.reduce((n, l) => n + l.unknownRows, 0),
    because: found[0].because,
  };
}

export function describeLoss(table: string, loss: DataLoss): string {
  const rows = `${rowCount(loss.rows, loss.rowsExact)} rows${loss.unknownRows ? ` (${loss.unknownRows} partition(s) not analyzed yet: row counts unknown)` : ""}`;
  const list = loss.partitions.map((p) => `${p.name} [${day(p.from)} → ${day(p.to)}, ${mb(p.bytes)}, ${p.rows === null ? "rows unknown (not analyzed yet)" : `${rowCount(p.rows, p.rowsExact)} rows`}]`);
  return `table ${table}: ${loss.because.join(", ")} makes maintenance DROP ${loss.partitions.length} partition(s) holding ${rows}, ${mb(loss.bytes)}: ${list.join(", ")}`;
}

/** "1,200" when counted, "~1,200" when estimated. */
export function rowCount(rows: number, exact: boolean): string {
  return `${exact ? "" : "~"}${rows.toLocaleString("en")}`;
}

function day(iso: string | null): string {
  return iso ? iso.replace("T", " ").replace(/:00(\.000)?Z$/, "Z").replace(/ 00:00Z$/, "") : "?";
}

function mb(bytes: number): string {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} kB`;
}
