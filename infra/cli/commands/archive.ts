import { archivePartitions, type ArchivedPartition, type ArchiveResult } from "../../archive/archive";
import { bytes, time } from "../format";
import { withStack, type StackOptions } from "../stack-session";

/** Where pg_dump and pg_restore are, when those on PATH are older than the server. */
export const PG_BIN_ENV = "PARTMAN_STACK_PG_BIN";

export interface ArchiveCliOptions extends StackOptions {
  json: boolean;
  to: string;
  dryRun: boolean;
}

export function archiveCommand(table: string, opts: ArchiveCliOptions): Promise<ArchiveResult> {
  return withStack(opts, (session, spec) =>
    archivePartitions(session, spec, table, { to: opts.to, dryRun: opts.dryRun, log: opts.log, pgBin: process.env[PG_BIN_ENV] || undefined }),
  );
}

export const ARCHIVE_EXIT_HELP = `Exit codes:
  0  every partition archived (or none expired)
  1  a partition failed (nothing was dropped for it), or an error; a dry run fails where the real
     run would refuse`;

/** Exit codes: ARCHIVE_EXIT_HELP. */
export async function archiveHandler(table: string, opts: ArchiveCliOptions): Promise<number> {
  const r = await archiveCommand(table, opts);
  process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + "\n" : formatArchive(r));
  return r.failed ? 1 : 0;
}

function formatArchive(r: ArchiveResult): string {
  const expiry = [
    r.retentionSchema ? `retention schema ${r.retentionSchema}` : null,
    r.horizon ? `horizon ${time(r.horizon)} (retention ${r.retention})` : null,
  ].filter(Boolean);
  const lines = [
    `${r.dryRun ? "dry run: nothing is dumped or dropped. " : ""}archive ${r.table} (database ${r.database}) to ${r.dir}: ${expiry.join(", ") || "no retention or retentionSchema declared, nothing expires"}`,
    ...r.warnings.map((w) => `  ! ${w}`),
  ];
  for (const p of r.partitions) lines.push(...formatPartition(p, r.dryRun));
  const archived = r.partitions.filter((p) => p.status === "archived");
  if (!r.partitions.length) lines.push("Nothing to archive.");
  else if (r.dryRun) lines.push(`Would archive ${r.partitions.length - r.failed} partition(s)${r.failed ? `; ${r.failed} would fail` : ""}.`);
  else {
    const rows = archived.reduce((n, p) => n + (p.rows ?? 0), 0);
    const size = archived.reduce((n, p) => n + (p.dumpBytes ?? 0), 0);
    lines.push(`Archived ${archived.length} partition(s), ${rows.toLocaleString("en")} rows in ${bytes(size)} of dumps${r.failed ? `; ${r.failed} failed and were not dropped` : ""}.`);
  }
  return lines.join("\n") + "\n";
}

function formatPartition(p: ArchivedPartition, dryRun: boolean): string[] {
  const range = p.value !== null ? ` [value ${p.value}]` : p.from && p.to ? ` [${time(p.from)} → ${time(p.to)}]` : "";
  const head = `${p.schema}.${p.name}${range}: ${p.rows === null ? "?" : p.rows.toLocaleString("en")} rows, ${bytes(p.tableBytes)}`;
  if (p.status === "failed") return [`  ✗ ${head}: ${p.reason}`];
  if (dryRun) return [`  - ${head} → would dump to ${p.file}, then run:`, ...p.sql.map((s) => `      ${s}`)];
  return [`  ✓ ${head} → ${p.file} (${bytes(p.dumpBytes ?? 0)}, sha256 ${p.sha256}); ${p.origin === "past-horizon" ? "detached and dropped" : "dropped"}`];
}
