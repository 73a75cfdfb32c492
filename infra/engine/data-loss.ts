// Retention is what deletes data. Which partitions the next maintenance run drops under a
// part_config, and which of those a config change would newly drop: what `plan`, `apply` and the
// Pulumi resource's check refuse without `allowDataLoss: true`.

import { shiftTime, tryParseInterval } from "../config/interval";
import type { PartitionInfo } from "./introspect";
import type { ManagedConfig } from "./partman";
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

type RetentionConfig = Pick<ManagedConfig, "retention" | "retention_keep_table" | "retention_schema">;

/** Partitions pg_partman's next run drops: with retention set, neither kept (retention_keep_table)
 *  nor moved (retention_schema), whose upper bound is older than now − retention. pg_partman never
 *  drops the last remaining partition. */
export function partitionsDropped(cfg: RetentionConfig, partitions: PartitionInfo[], now: Date): PartitionInfo[] {
  const retention = tryParseInterval(cfg.retention);
  if (!retention || cfg.retention_keep_table || cfg.retention_schema) return [];
  const horizon = shiftTime(now, retention, -1);
  const bounded = partitions.filter((p) => !p.isDefault && p.to !== null);
  const expired = bounded.filter((p) => new Date(p.to!) < horizon);
  return expired.length === bounded.length ? expired.slice(0, -1) : expired;
}

export function dataLoss(current: RetentionConfig, desired: RetentionConfig, partitions: PartitionInfo[], now: Date): DataLoss | null {
  const before = new Set(partitionsDropped(current, partitions, now).map((p) => p.name));
  const lost = partitionsDropped(desired, partitions, now).filter((p) => !before.has(p.name));
  if (lost.length === 0) return null;
  const because = (["retention", "retention_keep_table", "retention_schema"] as const)
    .filter((k) => current[k] !== desired[k])
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
