// Inputs of a PartitionedTable resource for public.events, as the Pulumi program builds them.

import type { ConnectedInputs } from "../../infra/providers/connection";
import type { TableInputs } from "../../infra/providers/partitioned-table";
import { ddlText } from "./roles";

export function eventsTableInputs(connected: ConnectedInputs, overrides: Partial<TableInputs> = {}): TableInputs {
  return {
    ...connected,
    name: "public.events",
    ddl: "sql/tables/events.sql",
    ddlSql: ddlText("sql/tables/events.sql"),
    control: "created_at",
    interval: "1 day",
    premake: 4,
    retention: "30 days",
    retentionKeepTable: false,
    retentionSchema: null,
    startPartition: null,
    defaultPartition: true,
    infiniteTimePartitions: true,
    allowDataLoss: false,
    ...overrides,
  };
}
