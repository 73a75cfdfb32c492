// What a server lacks for partman-stack, each with the exact fix per platform. Shared by plan (the
// CLI and the providers) and the Pulumi preflight, so every front end says the same thing.

import type { ServerState } from "./introspect";

export function partmanUnavailable(state: ServerState, wanted: string | null): string {
  return (
    (wanted && state.partmanAvailable.length > 0
      ? `pg_partman ${wanted} is not available on this server (available: ${state.partmanAvailable.join(", ")}); `
      : `the pg_partman extension is not available on this server; `) +
    `install it (Debian: apt-get install postgresql-15-partman; partman-stack local start installs 4.7.2, 5.2.4 and 5.5.0; ` +
    `RDS, Cloud SQL and Azure ship it: allow-list pg_partman where required, on Azure in azure.extensions)` +
    (wanted ? ` or change database.partmanVersion` : "")
  );
}

export function partmanMissing(state: ServerState): string {
  return (
    `pg_partman is not installed in database ${state.database}: create it first ` +
    `(the Pulumi program's pg_partman Extension resource does, as does partman-stack apply)`
  );
}

export function cronNotLoaded(state: ServerState): string {
  return (
    `pg_cron is not loaded on this server, so maintenance cannot be scheduled: set shared_preload_libraries = 'pg_cron' ` +
    `and cron.database_name = '${state.database}' and restart PostgreSQL (RDS: a parameter group; Cloud SQL: the cloudsql.enable_pg_cron flag; ` +
    `Azure: azure.extensions and shared_preload_libraries), or set maintenance.enabled: false and run maintenance yourself`
  );
}

export function cronFilesMissing(): string {
  return `pg_cron is preloaded but its extension files are missing: install postgresql-15-cron (or your platform's pg_cron package)`;
}

/** Everything a server must offer before any resource is created on it. */
export function serverProblems(state: ServerState, partmanVersion: string | null, needCron: boolean): string[] {
  const problems: string[] = [];
  const version = partmanVersion ?? state.partman?.version ?? state.partmanDefault;
  if (!state.partman && (!version || !state.partmanAvailable.includes(version))) problems.push(partmanUnavailable(state, partmanVersion));
  if (needCron) {
    if (!state.cron.preloaded || !state.cron.database) problems.push(cronNotLoaded(state));
    else if (!state.cron.version && !state.cron.availableVersion) problems.push(cronFilesMissing());
  }
  return problems;
}
