// What every dynamic provider needs to reach the database: the server address and password as
// resource inputs (the password a secret), opened inside each method so no live client is ever
// captured by closure serialization.

import type { SslMode, StackSpec, TableSpec, MaintenanceSpec } from "../config/types";
import { DEFAULTS } from "../config/validate";
import { clientConfig } from "../db/connection";
import { withSession, type Session } from "../db/session";
import type { ApplyResult } from "../engine/apply";
import { PACKAGE_VERSION } from "../package-root";
import { PartmanStackError } from "../config/errors";

/** Changes with the provider code, so a new release shows up in `pulumi preview` as an update. */
export const PROVIDER_VERSION = PACKAGE_VERSION;

export interface ConnectionInputs {
  host: string;
  port: number;
  database: string;
  user: string;
  sslmode: SslMode;
  /** Absolute path of the CA certificate the server's is verified against; absent (not null) when
   *  none, so the inputs of stacks made before it are unchanged. */
  sslRootCert?: string;
}

export interface ConnectedInputs {
  stack: string;
  connection: ConnectionInputs;
  /** Secret: arrives in plain text in the provider, and Pulumi re-marks the output secret. */
  password: string;
  /** The stack's owner role, acted as when it exists (see db/session.ts); null: the admin itself. */
  owner: string | null;
  providerVersion: string;
}

/** The value Pulumi passes for inputs not known yet (during preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function hasUnknowns(value: unknown): boolean {
  return JSON.stringify(value ?? null).includes(UNKNOWN);
}

/** The stack's session on the inputs' server; `resource` names it in pg_stat_activity. */
export function withInputsSession<T>(inputs: ConnectedInputs, resource: string, fn: (session: Session) => Promise<T>): Promise<T> {
  return withSession(clientConfig(inputs.connection, inputs.password || undefined), { owner: inputs.owner, purpose: `pulumi ${resource}` }, fn);
}

/** A resource is one unit: anything blocked or failed fails it, naming why. */
export function throwUnlessApplied(result: ApplyResult): void {
  const reasons = [...result.blocked.map((x) => x.message), ...result.failed.map((x) => x.message)];
  if (reasons.length > 0) throw new PartmanStackError(reasons.join("\n"));
}

/** A StackSpec for the engine, covering one table or the job, on the inputs' server. */
export function providerSpec(inputs: ConnectedInputs, part: { tables?: TableSpec[]; maintenance?: MaintenanceSpec }): StackSpec {
  return {
    stack: inputs.stack,
    root: ".",
    tables: part.tables ?? [],
    maintenance: part.maintenance ?? { ...DEFAULTS.maintenance },
    database: { mode: "external", ...inputs.connection, sslRootCert: inputs.connection.sslRootCert ?? null, cronDatabase: "postgres", partmanVersion: null },
    roles: { ...DEFAULTS.roles },
  };
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
