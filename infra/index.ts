// The library: everything the CLI and the Pulumi program do, as plain functions over `pg`.

export * from "./config/types";
export { parseInterval, sameInterval, type Interval } from "./config/interval";
export { ConfigError } from "./config/errors";
export { validateStack } from "./config/validate";
export { loadStack, findProjectRoot } from "./config/stack-file";
export { openSession, withSession, type Session } from "./db/session";
export { resolveConnection, parseDatabaseUrl } from "./db/connection";
export { introspect, type DatabaseState, type TableState, type CronJob } from "./engine/introspect";
export { plan, inSync, type Plan, type Step, type Problem, type PropertyChange } from "./engine/plan";
export { apply, type ApplyResult, type ApplyOptions, type ApplyEvent, type FailedUnit } from "./engine/apply";
export { planStack, applyStack } from "./engine/reconcile";
export { status, type StatusReport, type TableStatus } from "./engine/status";
export { verify, type VerifyReport, type Check } from "./engine/verify";
export { checkQueryPruning, describeResult, TRIVIAL_PARTITION_BYTES, type QueryPruning, type PlanPruning } from "./engine/pruning";
export { migrateRun, migrateStatus, migrateRollback, migrateFinish, finishPreview } from "./migrate/run";
export { archivePartitions, type ArchiveResult } from "./archive/archive";
