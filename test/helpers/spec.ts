// Stack declarations for engine tests: validated by the real validator, against the repo's own
// sql/tables DDL files, aimed at one test database with a job name of its own (pg_cron job names
// are unique per user across all databases of the cluster).

import path from "node:path";
import { validateStack } from "../../infra/config/validate";
import type { StackSpec } from "../../infra/config/types";
import { parseDatabaseUrl } from "../../infra/db/connection";
import { openSession, type Session } from "../../infra/db/session";

export const REPO_ROOT = path.resolve(__dirname, "../..");

export type RawTable = Record<string, unknown>;

export function events(overrides: RawTable = {}): RawTable {
  return { name: "public.events", ddl: "sql/tables/events.sql", control: "created_at", interval: "1 day", premake: 4, ...overrides };
}

export function auditLog(overrides: RawTable = {}): RawTable {
  return { name: "public.audit_log", ddl: "sql/tables/audit_log.sql", control: "created_at", interval: "1 month", premake: 2, ...overrides };
}

/** The id-range job log (sql/tables/job_log.sql): ids per partition, retention in ids. */
export function jobLog(overrides: RawTable = {}): RawTable {
  return { name: "public.job_log", ddl: "sql/tables/job_log.sql", control: "id", interval: 1000, premake: 2, ...overrides };
}

/** Readings stamped with epoch milliseconds (sql/tables/sensor_readings.sql): a time set on a bigint. */
export function sensorReadings(overrides: RawTable = {}): RawTable {
  return { name: "public.sensor_readings", ddl: "sql/tables/sensor_readings.sql", control: "recorded_ms", epoch: "milliseconds", interval: "1 day", premake: 3, ...overrides };
}

/** Events keyed by UUIDv7 ids (sql/tables/user_events.sql): a time set on a uuid. */
export function userEvents(overrides: RawTable = {}): RawTable {
  return { name: "public.user_events", ddl: "sql/tables/user_events.sql", control: "id", uuidv7: true, interval: "1 day", premake: 3, ...overrides };
}

/** Tenants' audit entries (sql/tables/tenant_audit.sql): ranges of tenant ids, each split by day. */
export function tenantAudit(overrides: RawTable = {}): RawTable {
  return {
    name: "public.tenant_audit", ddl: "sql/tables/tenant_audit.sql", control: "tenant_id", interval: 100, premake: 1,
    subpartition: { control: "created_at", interval: "1 day", premake: 2 }, ...overrides,
  };
}

/** Campaign participants (sql/tables/campaign_participants.sql): a list set, one partition per campaign_id. */
export function campaignParticipants(overrides: RawTable = {}): RawTable {
  return { name: "public.campaign_participants", ddl: "sql/tables/campaign_participants.sql", control: "campaign_id", type: "list", premake: 2, ...overrides };
}

export function specFor(
  db: { name: string },
  tables: RawTable[],
  opts: { maintenance?: Record<string, unknown>; partmanVersion?: string } = {},
): StackSpec {
  return validateStack("test", REPO_ROOT, {
    tables,
    maintenance: { jobName: `partman-${db.name}`, ...opts.maintenance },
    database: {
      mode: "external",
      host: "127.0.0.1",
      database: db.name,
      user: "postgres",
      sslmode: "disable",
      ...(opts.partmanVersion ? { partmanVersion: opts.partmanVersion } : {}),
    },
  });
}

/** The session every front end opens, on a test database: as the connecting admin, or as `owner`
 *  once that role exists. */
export function sessionFor(db: { url: string }, owner: string | null = null): Promise<Session> {
  return openSession(parseDatabaseUrl(db.url), { owner, purpose: "test" });
}

/** Child-table suffix of the partition holding `d`, per pg_partman major (daily intervals). */
export function dailySuffix(version: string, d: Date): string {
  const [y, m, day] = d.toISOString().slice(0, 10).split("-");
  return version.startsWith("4.") ? `_p${y}_${m}_${day}` : `_p${y}${m}${day}`;
}
