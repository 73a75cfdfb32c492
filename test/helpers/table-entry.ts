// A PartitionedTable entry's properties a test leaves at the declaration's defaults, as the
// program fills them in (no Pulumi or vitest import: the real-engine test's program loads it too).

import type { TableEntry } from "../../infra/providers/partitioned-table";

export const ENTRY_DEFAULTS = {
  control: "created_at",
  interval: "1 day",
  premake: 4,
  retention: null,
  retentionKeepTable: false,
  retentionSchema: null,
  startPartition: null,
  defaultPartition: true,
  infiniteTimePartitions: true,
  allowDataLoss: false,
} satisfies Partial<TableEntry>;
