// The partitions of a sub-partitioned set (subpartition:) that are partitioned in turn, each as a
// set of its own, so the checks written for a set (verify's premake, bounds, retention and default
// partition) cover them unchanged.

import type { TableSpec } from "../config/types";
import type { TableState } from "./introspect";

/** Each sub-parent's declaration (the set's subpartition, on the sub-parent's name) and state (with
 *  the retention partman-stack keeps for it: the set's partman_stack.sub_retention). */
export function subParents(t: TableSpec, ts: TableState): [TableSpec, TableState][] {
  const s = t.subpartition;
  if (!s) return [];
  return ts.subParents.map((child) => {
    const table = child.name.slice(t.schema.length + 1);
    const shape = s.kind === "time" ? { ...s, timeCodec: null } : s;
    const spec: TableSpec = {
      ...t,
      ...shape,
      name: child.name,
      table,
      ddl: null,
      ddlSql: null,
      retentionSchema: null,
      startPartition: null,
      defaultPartition: true,
      subpartition: null,
      queries: [],
    };
    return [spec, { ...child, retention: ts.subRetention }];
  });
}
