// Inputs of a PartitionedTable resource for public.events, as the Pulumi program builds them.

import type { ConnectedInputs } from "../../infra/providers/connection";
import type { TableInputs } from "../../infra/providers/partitioned-table";
import { ddlText } from "./roles";
import { ENTRY_DEFAULTS } from "./table-entry";

export function eventsTableInputs(connected: ConnectedInputs, overrides: Partial<TableInputs> = {}): TableInputs {
  return {
    ...connected,
    ...ENTRY_DEFAULTS,
    name: "public.events",
    ddl: "sql/tables/events.sql",
    ddlSql: ddlText("sql/tables/events.sql"),
    retention: "30 days",
    ...overrides,
  };
}
