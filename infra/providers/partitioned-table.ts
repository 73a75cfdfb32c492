// One declared partitioned table as a Pulumi resource: check validates it as the CLI does, diff
// names the part_config properties that change, create/update run the engine's plan for this
// table, read returns the live part_config (so `pulumi refresh` shows hand edits), and delete
// never touches the database.

import * as pulumi from "@pulumi/pulumi";
import { sameSpan, type EpochUnit } from "../config/span";
import { DEFAULTS, validateTableEntry } from "../config/validate";
import type { SubpartitionDeclaration, TableSpec } from "../config/types";
import { introspect } from "../engine/introspect";
import { DECLARED_COLUMNS, liveConfig } from "../partman/config";
import { applyStack, planStack } from "../engine/reconcile";
import { hasUnknowns, providerSpec, sameJson, throwUnlessApplied, withInputsSession, type ConnectedInputs } from "./connection";

/** The table entry as in the stack file, plus its DDL text. */
export interface TableEntry {
  name: string;
  ddl: string | null;
  ddlSql: string | null;
  control: string;
  /** list: one partition per integer value; range (or absent): ranges. */
  type?: "range" | "list";
  interval: string;
  premake: number;
  retention: string | null;
  retentionKeepTable: boolean;
  retentionSchema: string | null;
  startPartition: string | null;
  defaultPartition: boolean;
  infiniteTimePartitions: boolean;
  allowDataLoss: boolean;
  /** The unit of an integer control column's epoch times; absent on other sets. */
  epoch?: EpochUnit;
  /** How a uuid or text control column holds times; absent on other sets. */
  uuidv7?: boolean;
  timeEncoder?: string;
  timeDecoder?: string;
  /** Sub-partitions, as in the stack file; absent when the partitions are plain tables. */
  subpartition?: SubpartitionDeclaration;
}

export type TableInputs = ConnectedInputs &
  TableEntry & {
    /** Set by check: the partitions an acknowledged retention change makes maintenance drop, so
     *  `pulumi preview --diff` names them. */
    pendingDrops?: string[];
  };

export interface TableOutputs extends TableInputs {
  partmanVersion: string | null;
}

/** Changed in place: part_config's columns, and the default partition. */
const MANAGED = [...DECLARED_COLUMNS.map(([key]) => key), "defaultPartition"] as const;
const SUB_KEYS = ["control", "interval", "premake", "retention", "retentionKeepTable", "epoch"] as const;

/** What changes in subpartition, key by key (subpartition.premake, …; Pulumi's preview shows the
 *  nested values), or subpartition itself when it is added or removed. Whether a change is in place
 *  or a migration is the plan's to say: check surfaces its refusal. */
function subpartitionChanges(olds: SubpartitionDeclaration | undefined, news: SubpartitionDeclaration | undefined): string[] {
  if (!olds || !news) return sameJson(olds ?? null, news ?? null) ? [] : ["subpartition"];
  const defaults: Partial<SubpartitionDeclaration> = { premake: DEFAULTS.premake, retentionKeepTable: DEFAULTS.retentionKeepTable };
  const value = (d: SubpartitionDeclaration, k: (typeof SUB_KEYS)[number]) => {
    const v = d[k] ?? defaults[k];
    return v === undefined || v === null ? null : String(v);
  };
  return SUB_KEYS.filter((k) => (k === "interval" || k === "retention" ? !sameSpan(value(olds, k), value(news, k)) : value(olds, k) !== value(news, k))).map((k) => `subpartition.${k}`);
}

/** Fixed once the partition set exists: changing them is a migration, never a replacement. */
const FIXED = ["name", "control", "type", "interval", "epoch", "uuidv7", "timeEncoder", "timeDecoder", "ddlSql"] as const;
const ENTRY_KEYS = ["name", "ddl", "control", "type", "interval", "premake", "retention", "retentionKeepTable", "retentionSchema", "startPartition", "defaultPartition", "infiniteTimePartitions", "allowDataLoss", "epoch", "uuidv7", "timeEncoder", "timeDecoder", "subpartition"];

function tableSpec(inputs: TableInputs): TableSpec {
  const entry = Object.fromEntries(ENTRY_KEYS.filter((k) => (inputs as unknown as Record<string, unknown>)[k] !== undefined).map((k) => [k, (inputs as unknown as Record<string, unknown>)[k]]));
  const { table, problems } = validateTableEntry(inputs.stack, entry, inputs.ddlSql);
  if (!table) throw new Error(problems.map((p) => p.message).join("\n"));
  return table;
}

function fixedChanges(olds: Partial<TableInputs>, news: TableInputs): { key: (typeof FIXED)[number]; reason: string }[] {
  // An absent type is range: a range set turning into a list one (or back) is a change too.
  const value = (x: Partial<TableInputs>, k: (typeof FIXED)[number]) => (k === "type" && x.name !== undefined ? x.type ?? "range" : x[k]);
  return FIXED.filter((k) => value(olds, k) !== undefined && value(olds, k) !== value(news, k)).map((k) => ({
    key: k,
    reason: k === "ddlSql"
      ? `table ${news.name}: its DDL file ${news.ddl} changed, but partman-stack never re-runs DDL on an existing table; ` +
        `change the live table with a reviewed migration, then make the file match it`
      : `table ${olds.name}: ${k} cannot change from ${JSON.stringify(value(olds, k))} to ${JSON.stringify(value(news, k))} in place; ` +
        `that needs a migration to a new partition set (partman-stack never replaces a table); set it back to ${JSON.stringify(value(olds, k))}`,
  }));
}

function same(key: (typeof MANAGED)[number], a: unknown, b: unknown): boolean {
  if (key === "retention") return sameSpan(a === null || a === undefined ? null : String(a), b === null || b === undefined ? null : String(b));
  return sameJson(a, b);
}

async function reconcile(inputs: TableInputs): Promise<TableOutputs> {
  const spec = providerSpec(inputs, { tables: [tableSpec(inputs)] });
  return withInputsSession(inputs, `PartitionedTable ${inputs.name}`, async (session) => {
    const { plan, result } = await applyStack(session, spec, {}, ["tables"]);
    throwUnlessApplied(result);
    return { ...inputs, partmanVersion: plan.partmanVersion };
  });
}

export const partitionedTableProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<TableInputs>, news: TableInputs) {
    const entry = Object.fromEntries(ENTRY_KEYS.map((k) => [k, (news as unknown as Record<string, unknown>)[k]]).filter(([, v]) => v !== undefined && v !== null));
    if (hasUnknowns(entry)) return { inputs: news };
    const { table, problems } = validateTableEntry(news.stack, entry, news.ddlSql);
    const failures = problems.map((p) => ({ property: p.key, reason: p.message }));
    for (const { key, reason } of fixedChanges(olds, news)) failures.push({ property: key, reason });
    if (!table || failures.length > 0 || hasUnknowns(news.connection) || hasUnknowns(news.password)) return { inputs: news, failures };
    // The retention guard needs the live partitions; a server that cannot be reached yet fails at create/update instead.
    const loss = await withInputsSession(news, `PartitionedTable ${news.name}`, async (session) => {
      const p = await planStack(session, providerSpec(news, { tables: [table] }), ["tables"]);
      return { problems: p.problems.filter((x) => x.dataLoss || x.property), drops: p.steps.find((x) => x.dataLoss)?.dataLoss };
    }).catch(() => ({ problems: [], drops: undefined }));
    for (const x of loss.problems) failures.push({ property: x.property ?? "retention", reason: x.message });
    const pendingDrops = loss.drops?.partitions.map((x) => `${x.name} [${x.from} → ${x.to}]`);
    return { inputs: pendingDrops ? { ...news, pendingDrops } : news, failures };
  },

  async diff(_id: string, olds: TableOutputs, news: TableInputs) {
    const fixed = fixedChanges(olds, news);
    if (fixed.length > 0) throw new Error(fixed.map((x) => x.reason).join("\n"));
    const changed: string[] = [...MANAGED.filter((k) => !same(k, olds[k], news[k])), ...subpartitionChanges(olds.subpartition, news.subpartition)];
    for (const k of ["connection", "password", "owner", "providerVersion", "stack"] as const) if (!sameJson(olds[k], news[k])) changed.push(k);
    return { changes: changed.length > 0, replaces: [], stables: [...FIXED], deleteBeforeReplace: false };
  },

  async create(inputs: TableInputs) {
    const outs = await reconcile(inputs);
    return { id: inputs.name, outs };
  },

  async read(id: string, props: TableOutputs) {
    const spec = providerSpec(props, { tables: [tableSpec(props)] });
    return withInputsSession(props, `PartitionedTable ${props.name}`, async (session) => {
      const state = await introspect(session, spec);
      const t = state.tables[props.name];
      // Gone from the database: refresh drops it from state, and the next `up` recreates it.
      if (t.relkind === null) return { id: "", props: {} };
      const row = t.partConfig;
      const live: TableOutputs = { ...props, partmanVersion: state.partman?.version ?? null, defaultPartition: t.hasDefault };
      if (row) {
        const config = liveConfig(row, t.retention);
        // An equal interval written another way ("1 mon" for "1 month") is no drift.
        const declared = (key: (typeof MANAGED)[number], value: unknown) => (same(key, value, props[key]) ? props[key] : value);
        Object.assign(live, Object.fromEntries(DECLARED_COLUMNS.map(([key, column]) => [key, declared(key, config[column])])), {
          interval: sameSpan(row.partition_interval, String(props.interval)) ? props.interval : row.partition_interval,
          control: row.control,
        });
        // Absent unless list or declared: Pulumi cannot serialize an undefined property.
        if (t.strategy === "l" || props.type !== undefined) live.type = t.strategy === "l" ? "list" : "range";
        else delete live.type;
      }
      if (t.subConfig) {
        const sub = t.subConfig;
        const config = liveConfig(sub, t.subRetention);
        const declared = props.subpartition;
        live.subpartition = {
          ...declared,
          control: sub.control,
          interval: declared && sameSpan(sub.partition_interval, String(declared.interval)) ? declared.interval : sub.partition_interval,
          premake: config.premake,
          retention: declared && sameSpan(config.retention, declared.retention === undefined || declared.retention === null ? null : String(declared.retention)) ? declared.retention ?? null : config.retention,
          retentionKeepTable: config.retention_keep_table,
        };
      } else delete live.subpartition;
      return { id, props: live };
    });
  },

  async update(_id: string, _olds: TableOutputs, news: TableInputs) {
    return { outs: await reconcile(news) };
  },

  // Never drops or unregisters: the table, its partitions and its part_config stay as they are.
  // (The resource is also protected and retained on delete by default; see program/options.ts.)
  async delete() {},
};

export class PartitionedTable extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly interval: pulumi.Output<string>;
  declare readonly premake: pulumi.Output<number>;
  declare readonly retention: pulumi.Output<string | null>;
  declare readonly retentionSchema: pulumi.Output<string | null>;
  declare readonly partmanVersion: pulumi.Output<string | null>;

  constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(partitionedTableProvider, name, { partmanVersion: undefined, ...args }, opts, "partman", "PartitionedTable");
  }
}
