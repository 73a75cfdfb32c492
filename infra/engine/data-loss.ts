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
  /** Sum of estimates; partitions never analyzed count as unknown. */
  estimatedRows: number;
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
    estimatedRows: lost.reduce((n, p) => n + (p.estimatedRows ?? 0), 0),
    unknownRows: lost.filter((p) => p.estimatedRows === null).length,
    because,
  };
}

export function describeLoss(table: string, loss: DataLoss): string {
  const rows = `~${loss.estimatedRows.toLocaleString("en")} rows${loss.unknownRows ? ` (${loss.unknownRows} partition(s) never analyzed: row counts unknown)` : ""}`;
  const list = loss.partitions.map((p) => `${p.name} [${day(p.from)} → ${day(p.to)}, ${mb(p.bytes)}, ${p.estimatedRows === null ? "rows unknown" : `~${p.estimatedRows.toLocaleString("en")} rows`}]`);
  return `table ${table}: ${loss.because.join(", ")} makes maintenance DROP ${loss.partitions.length} partition(s) holding ${rows}, ${mb(loss.bytes)}: ${list.join(", ")}`;
}

function day(iso: string | null): string {
  return iso ? iso.replace("T", " ").replace(/:00(\.000)?Z$/, "Z").replace(/ 00:00Z$/, "") : "?";
}

function mb(bytes: number): string {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} kB`;
}
