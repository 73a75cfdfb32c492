// The Pulumi side (`partman-stack/pulumi`): the PartmanDatabase component and the dynamic resources
// it is made of, for a Pulumi program that provides its own server.

export { PartmanDatabase, type PartmanDatabaseArgs, type PartmanDatabaseTable } from "./component/partman-database";
export { PartitionedTable } from "./providers/partitioned-table";
export { MaintenanceJob } from "./providers/maintenance-job";
export { ServerPreflight } from "./providers/server-preflight";
export type { MaintenanceDeclaration, SslMode, TableDeclaration } from "./config/types";
