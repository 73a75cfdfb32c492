// The CrossGuard policies as plain objects, so tests call validateResource directly (index.ts
// builds the PolicyPack, whose constructor starts a gRPC server).

import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { approxMillis, IntervalSyntaxError, parseInterval } from "../config/interval";
import { parseIdCount } from "../config/span";

export const PARTITIONED_TABLE = "pulumi-nodejs:dynamic/partman:PartitionedTable";

export interface RetentionMinimumConfig {
  minimumRetention: string;
  /** For integer-range and list tables, whose retention counts ids (or values): no time minimum applies to them. */
  minimumIdRetention: number | null;
  prodStacks: string[];
}

const isTable = (args: ResourceValidationArgs) => args.type === PARTITIONED_TABLE;
const tableName = (args: ResourceValidationArgs) => String(args.props.name ?? args.name);
/** urn:pulumi:<stack>::<project>::<type>::<name> */
const stackOf = (urn: string) => urn.split(":")[2]?.split("::")[0] ?? "";

export const prodRetentionMinimum: ResourceValidationPolicy = {
  name: "prod-retention-minimum",
  description: "Partitioned tables in production stacks keep data at least the configured minimum retention.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minimumRetention: { type: "string", default: "90 days", description: "Shortest retention allowed in production stacks, a PostgreSQL interval (a month counts as 30 days)." },
      minimumIdRetention: {
        type: ["integer", "null"],
        default: null,
        description: "Smallest retention, in ids (values on a list table), allowed for integer-range and list tables in production stacks; null: not checked (a count of ids has no time to compare with minimumRetention).",
      },
      prodStacks: { type: "array", items: { type: "string" }, default: ["prod"], description: "Stack names the minimum applies to." },
    },
  },
  validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
    if (!isTable(args)) return;
    const { minimumRetention, minimumIdRetention, prodStacks } = { minimumRetention: "90 days", minimumIdRetention: null, prodStacks: ["prod"], ...args.getConfig<Partial<RetentionMinimumConfig>>() };
    const stack = stackOf(args.urn);
    if (!prodStacks.includes(stack)) return;
    function checkRetention(key: string, retention: string | number | null | undefined): void {
      if (retention === null || retention === undefined) return;
      const ids = parseIdCount(retention);
      if (ids) {
        if (minimumIdRetention !== null && ids.ids < minimumIdRetention) {
          report(
            `table ${tableName(args)} in stack ${stack}: ${key} ${ids.text} ids is fewer than the minimum ${minimumIdRetention} ids for production stacks; ` +
              `set ${key} to at least ${minimumIdRetention} in stacks/Pulumi.${stack}.yaml (or change the policy's minimumIdRetention)`,
          );
        }
        return;
      }
      let minimum;
      try {
        minimum = parseInterval(minimumRetention);
      } catch (err) {
        if (!(err instanceof IntervalSyntaxError)) throw err;
        report(`policy config minimumRetention "${minimumRetention}" is not a PostgreSQL interval: ${err.message}; set it to e.g. "90 days" in the policy pack config`);
        return;
      }
      let value;
      try {
        value = parseInterval(String(retention));
      } catch (err) {
        if (!(err instanceof IntervalSyntaxError)) throw err;
        report(`table ${tableName(args)} in stack ${stack}: ${key} "${retention}" is not a PostgreSQL interval (${err.message}); write e.g. "${minimumRetention}"`);
        return;
      }
      if (approxMillis(value) < approxMillis(minimum)) {
        report(
          `table ${tableName(args)} in stack ${stack}: ${key} "${retention}" is shorter than the minimum "${minimumRetention}" for production stacks; ` +
            `set ${key} to at least "${minimumRetention}" in stacks/Pulumi.${stack}.yaml (or change the policy's minimumRetention)`,
        );
      }
    }
    // The set's retention, and its sub-partitions' (each range keeps only that much).
    const sub = args.props.subpartition as { retention?: string | number | null } | undefined;
    checkRetention("retention", args.props.retention as string | number | null | undefined);
    checkRetention("subpartition.retention", sub?.retention);
  },
};

export const tablesProtected: ResourceValidationPolicy = {
  name: "tables-protected",
  description: "Partitioned tables are protected, so neither a destroy nor a removal from the stack can delete them.",
  enforcementLevel: "mandatory",
  validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
    if (isTable(args) && !args.opts.protect) {
      report(`table ${tableName(args)} is not protected: declare it with { protect: true } (partman-stack's tableOptions() does)`);
    }
  },
};

export const noUnacknowledgedShrink: ResourceValidationPolicy = {
  name: "no-unacknowledged-shrink",
  description: "A retention change that makes maintenance drop partitions needs allowDataLoss: true on that table.",
  enforcementLevel: "mandatory",
  validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
    // Type first: props is a proxy that throws on unknown values during preview.
    if (!isTable(args)) return;
    const drops = args.props.pendingDrops as string[] | undefined;
    if (!drops?.length || args.props.allowDataLoss === true) return;
    report(
      `table ${tableName(args)}: this change makes maintenance drop ${drops.length} partition(s) (${drops.join(", ")}) without allowDataLoss: true; ` +
        `set allowDataLoss: true on the table's entry if the data may go, or keep it with retentionSchema`,
    );
  },
};

export const POLICIES = [prodRetentionMinimum, tablesProtected, noUnacknowledgedShrink];
