// pg_partman's published security fixes, and which of them matter to a stack on the installed
// release: verify and status warn with the CVEs that apply and how to upgrade. The release notes
// are the source (see pg_partman's CHANGELOG for 5.5.0); add an entry when a release fixes more.

import type { StackSpec } from "../config/types";
import { versionAtLeast, type PartmanInstall } from "./version";

/** The release that fixes everything below, and the one partman-stack's stacks should declare. */
export const PARTMAN_SECURE = "5.5.0";

/** What the advisories read of the server (a part of engine/introspect's ServerState). */
interface PartmanServer {
  partman: PartmanInstall | null;
  partmanAvailable: string[];
  /** Whether pg_jobmon is installed in the database. */
  jobmon: boolean;
}

interface Advisory {
  cves: string[];
  what: string;
  /** Why it applies to this stack on this server, or null when it does not. */
  appliesTo(spec: StackSpec, state: Pick<PartmanServer, "jobmon">, installed: PartmanInstall): string | null;
}

const ADVISORIES: Advisory[] = [
  {
    cves: ["CVE-2026-61781", "CVE-2026-61817", "CVE-2026-61818"],
    what: "SQL injection and privilege escalation through time encoder/decoder functions",
    appliesTo: (spec, _state, installed) => {
      const sets = spec.tables.filter((t) => t.kind === "time" && t.timeCodec).map((t) => t.name);
      return sets.length > 0 && installed.timeCodecs ? `${sets.join(", ")} ${sets.length === 1 ? "uses" : "use"} a time codec` : null;
    },
  },
  {
    cves: ["CVE-2026-61819"],
    what: "pg_jobmon logging",
    appliesTo: (_spec, state) => (state.jobmon ? "pg_jobmon is installed in this database, so pg_partman logs through it" : null),
  },
  {
    cves: ["CVE-2026-61820"],
    what: "template-table inheritance",
    appliesTo: (spec) => (spec.tables.length > 0 ? "every set's new partitions inherit from its template table" : null),
  },
  {
    cves: ["CVE-2026-61821"],
    what: "a retention schema not owned by the child tables' owner",
    appliesTo: (spec) => {
      const sets = spec.tables.filter((t) => t.retentionSchema).map((t) => t.name);
      return sets.length > 0 ? `${sets.join(", ")} ${sets.length === 1 ? "moves" : "move"} expired partitions to a retentionSchema` : null;
    },
  },
  {
    cves: ["CVE-2026-61822"],
    what: "one set's error stopping pg_partman's run_maintenance() for every other set",
    appliesTo: (spec) =>
      spec.tables.length > 0 ? "anything that runs pg_partman's own run_maintenance() (its background worker, a job of your own); partman-stack's job maintains each set on its own" : null,
  },
];

export interface PartmanAdvisory {
  cves: string[];
  what: string;
  why: string;
}

/** The fixes the installed pg_partman lacks that apply to this stack; empty on 5.5.0 or later. */
export function partmanAdvisories(spec: StackSpec, state: Pick<PartmanServer, "partman" | "jobmon">): PartmanAdvisory[] {
  const installed = state.partman;
  if (!installed || versionAtLeast(installed.version, PARTMAN_SECURE)) return [];
  return ADVISORIES.flatMap((a) => {
    const why = a.appliesTo(spec, state, installed);
    return why ? [{ cves: a.cves, what: a.what, why }] : [];
  });
}

/** How this stack gets the fixes: an in-place update within 5.x, a documented migration from 4.x. */
export function upgradeAdvice(spec: StackSpec, state: Pick<PartmanServer, "partman" | "partmanAvailable">): string {
  const installed = state.partman!.version;
  if (state.partman!.major < 5) {
    return (
      `pg_partman ${installed} → ${PARTMAN_SECURE} crosses a major release, which pg_partman documents as a migration of its own ` +
      `(its docs/pg_partman_5.0.1_upgrade.md: the config tables change and trigger-based sets must be migrated first); partman-stack does not do it in place`
    );
  }
  const available = state.partmanAvailable.filter((v) => versionAtLeast(v, PARTMAN_SECURE)).pop();
  const declare = `set database.partmanVersion: "${available ?? PARTMAN_SECURE}" in stacks/Pulumi.${spec.stack}.yaml, then partman-stack plan --stack ${spec.stack} and apply (ALTER EXTENSION pg_partman UPDATE, in place, on the live sets)`;
  return available
    ? declare
    : `install pg_partman ${PARTMAN_SECURE} on the server first (Debian: postgresql-<major>-partman ${PARTMAN_SECURE} from Debian testing or PGDG; a managed service: when it offers ${PARTMAN_SECURE}), then ${declare}`;
}

/** What the installed release lacks for this stack, every applicable CVE named; null if nothing. */
export function partmanAdvisoryMessage(spec: StackSpec, state: Pick<PartmanServer, "partman" | "jobmon">): string | null {
  const found = partmanAdvisories(spec, state);
  if (found.length === 0) return null;
  const list = found.map((a) => `${a.cves.join(", ")} (${a.what}: ${a.why})`).join("; ");
  return `pg_partman ${state.partman!.version} lacks security fixes of ${PARTMAN_SECURE} that apply to stack ${spec.stack}: ${list}`;
}

/** That message with the upgrade that fixes it. */
export function partmanAdvisoryWarning(spec: StackSpec, state: Pick<PartmanServer, "partman" | "partmanAvailable" | "jobmon">): string | null {
  const message = partmanAdvisoryMessage(spec, state);
  return message && `${message}. Upgrade: ${upgradeAdvice(spec, state)}`;
}
