// A uuid or text set's time encoder and decoder (pg_partman 5.2+): the names as partman-stack's
// own statements call them, as each release takes and stores them, and how a control value becomes
// a time.

import type { TableSpec } from "../config/types";
import { qualifiedFunction, quoteIdent, quoteLiteral } from "../config/identifiers";
import { EPOCH_UNITS } from "../config/span";
import { configColumnName, partmanConfigTables, type PartConfigRow } from "./config";
import type { PartmanInstall } from "./version";

type Codec = { encoder: string; decoder: string };

/** The encoder and decoder of a uuid or text set as SQL calls them (partman-stack's own
 *  statements): uuidv7's are pg_partman's own, qualified with its schema. */
export function timeCodecFunctions(p: PartmanInstall, t: TableSpec): Codec | null {
  if (t.kind !== "time" || !t.timeCodec) return null;
  return t.timeCodec === "uuidv7" ? uuid7Codec(quoteIdent(p.schema)) : t.timeCodec;
}

/** pg_partman's own UUIDv7 encoder and decoder, in `schema` as written. */
const uuid7Codec = (schema: string): Codec => ({ encoder: `${schema}.uuid7_time_encoder`, decoder: `${schema}.uuid7_time_decoder` });

/** A codec name as this release stores it: 5.5+ quotes each part itself, so without quotes. */
export const storedCodecName = (p: PartmanInstall, name: string) => (p.quotesCodecNames ? name.replace(/"/g, "") : name);

/** Whether an update from `from` to `to` changes how codec names are stored. */
export const crossesCodecQuoting = (from: PartmanInstall, to: PartmanInstall) => to.quotesCodecNames && !from.quotesCodecNames;

/** The same names as pg_partman takes and stores them: before 5.5 it interpolates them as given
 *  (so the schema of its own is quoted here); 5.5+ quotes each part itself (%I), so they go
 *  unquoted. Declared names are lower-case identifiers (validate.ts), the same either way. */
export function timeCodecNames(p: PartmanInstall, t: TableSpec): Codec | null {
  if (t.kind !== "time" || !t.timeCodec) return null;
  return t.timeCodec === "uuidv7" ? uuid7Codec(p.quotesCodecNames ? p.schema : quoteIdent(p.schema)) : t.timeCodec;
}

/** A set's time encoder and decoder as part_config holds them against the declared ones (compared
 *  without quotes or case, as pg_partman keeps the names it was given); null when they agree. The
 *  keys already written are in the set's encoding, so a change is a migration, never an update. */
export function timeCodecChange(p: PartmanInstall, t: TableSpec, row: PartConfigRow): { live: string; declared: string; restore: string } | null {
  const text = (c: { encoder: string | null; decoder: string } | null) => (c ? `${c.encoder ?? "none"}/${c.decoder}` : "none");
  const declared = text(timeCodecFunctions(p, t));
  const live = text(row.time_decoder ? { encoder: row.time_encoder && qualifiedFunction(row.time_encoder, t.schema), decoder: qualifiedFunction(row.time_decoder, t.schema) } : null);
  const plain = (s: string) => s.replace(/"/g, "").toLowerCase();
  if (plain(declared) === plain(live)) return null;
  const restore =
    live === "none" ? "remove uuidv7, timeEncoder and timeDecoder"
    : plain(live) === plain(text(uuid7Codec(p.schema))) ? "declare uuidv7: true"
    : `declare timeEncoder: ${row.time_encoder} and timeDecoder: ${row.time_decoder}`;
  return { live, declared, restore };
}

/** A set's encoder and decoder rewritten in part_config as this release must find them: a bare
 *  name (registered before partman-stack qualified them) qualified, since pg_partman and
 *  partman-stack's maintenance run under a search_path of pg_catalog; on 5.5+, a quoted name (given
 *  to an earlier release, then updated by hand or by the Pulumi Extension resource) unquoted, as
 *  5.5 quotes each part itself. `change`: the decoder's column, as a plan shows it. null when they
 *  are stored right. */
export function storedTimeCodecFix(
  p: PartmanInstall,
  t: TableSpec,
  row: PartConfigRow,
): { sql: string; summary: string; change: { property: string; from: string | null; to: string | null } } | null {
  const store = (n: string | null) => (n === null ? null : storedCodecName(p, qualifiedFunction(n, t.schema)));
  const [encoder, decoder] = [store(row.time_encoder), store(row.time_decoder)];
  if (encoder === row.time_encoder && decoder === row.time_decoder) return null;
  const bare = [row.time_encoder, row.time_decoder].some((n) => n !== null && !n.includes("."));
  const q = (n: string | null) => (n === null ? "NULL" : quoteLiteral(n));
  const [config] = partmanConfigTables(p);
  return {
    sql: `UPDATE ${config} SET time_encoder = ${q(encoder)}, time_decoder = ${q(decoder)} WHERE parent_table = ${quoteLiteral(t.name)};`,
    summary: bare
      ? `qualify the time encoder and decoder with schema ${t.schema} (a bare name depends on the search_path maintenance runs under)`
      : `store the time encoder and decoder unquoted, as pg_partman ${p.version} quotes each part of the names itself`,
    change: { property: configColumnName("time_decoder"), from: row.time_decoder, to: decoder },
  };
}

/** The time a control value of a time set stands for (SQL): an epoch column's integer in its unit,
 *  a uuid or text key through the set's decoder, a time column as it is. */
export function controlTimeSql(p: PartmanInstall, t: TableSpec & { kind: "time" }, value: string): string {
  if (t.epoch) return `to_timestamp(${value} / ${EPOCH_UNITS[t.epoch]}::numeric)`;
  const codec = timeCodecFunctions(p, t);
  return codec ? `${codec.decoder}(${value}::text)` : value;
}
