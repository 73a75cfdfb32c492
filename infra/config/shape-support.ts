import { partmanFeatures } from "../partman/version";
import type { TableSpec } from "./types";

/** What pg_partman `version` cannot make of a declared set: 4.x knows no microseconds epoch (for
 *  the set or its sub-partitions); list sets came with 5.1, time encoders and decoders (uuid and
 *  text control columns) with 5.2. `source` says where the version comes from: the installed
 *  extension (plan, migrate) or the stack's partmanVersion (validation, before any connection). */
export function unsupportedShape(version: string, t: TableSpec, source: "installed" | "partmanVersion"): string | null {
  const can = partmanFeatures(version);
  const has = `${source}: ${version}`;
  if (t.kind === "id" && t.type === "list" && !can.listSets) {
    return `table ${t.name}: type: list (one partition per value) needs pg_partman 5.1 or later (${has}, which partitions only by ranges); upgrade pg_partman, or declare ranges of ids (type: range, interval ≥ 2)`;
  }
  if (t.kind === "time" && t.timeCodec && !can.timeCodecs) {
    const what = t.timeCodec === "uuidv7" ? "uuidv7 (UUIDv7 keys)" : "timeEncoder/timeDecoder";
    return `table ${t.name}: ${what} needs pg_partman 5.2 or later (${has}, which partitions only time and integer columns); upgrade pg_partman, or partition by a timestamptz column`;
  }
  const sub = t.subpartition;
  if (sub?.kind === "time" && sub.epoch === "microseconds" && !can.microsecondEpochs) {
    return `table ${t.name}: subpartition.epoch microseconds needs pg_partman 5.0 or later (${has}, which knows seconds, milliseconds and nanoseconds); upgrade pg_partman, or store another unit`;
  }
  if (t.kind === "time" && t.epoch === "microseconds" && !can.microsecondEpochs) {
    return `table ${t.name}: epoch microseconds needs pg_partman 5.0 or later (${has}, which knows seconds, milliseconds and nanoseconds); upgrade pg_partman, or store another unit`;
  }
  return null;
}
