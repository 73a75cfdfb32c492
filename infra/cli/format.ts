// Human-readable output of plans and status reports; --json prints the same data unformatted.

import type { ApplyEvent, ApplyResult, MaintenanceResult } from "../engine/apply";
import { rowCount } from "../engine/data-loss";
import { EXACT_COUNT_MAX_BYTES } from "../engine/introspect";
import type { Plan, Step } from "../engine/plan";
import { describeRun, type StatusReport, type TableStatus } from "../engine/status";

const SYMBOL: Record<Step["action"], string> = {
  "create-extension": "+",
  "update-extension": "~",
  "create-cron-extension": "+",
  "create-schema": "+",
  "create-table": "+",
  "create-parent": "+",
  "create-sub-parent": "+",
  "create-default": "+",
  "drop-default": "-",
  "update-config": "~",
  "set-retention": "~",
  "run-maintenance": ">",
  "install-objects": "+",
  "schedule-job": "+",
  "alter-job": "~",
  "reassign-job": "~",
  "unschedule-job": "-",
};

export function formatPlan(p: Plan): string {
  const lines = [`Stack ${p.stack} → database ${p.database}${p.partmanVersion ? ` (pg_partman ${p.partmanVersion})` : ""}`, ""];
  let unit = "";
  for (const s of p.steps) {
    if (s.unit !== unit) {
      unit = s.unit;
      lines.push(`  ${unit}${s.database !== p.database ? ` (in database ${s.database})` : ""}`);
    }
    lines.push(`    ${SYMBOL[s.action]} ${s.summary}`);
    for (const sql of s.sql) lines.push(...sql.split("\n").map((l) => `        ${l}`));
  }
  if (p.problems.length > 0) {
    lines.push("", "Problems (apply leaves what they name alone until they are fixed):");
    for (const x of p.problems) lines.push(`  ✗ ${x.message}`);
  }
  if (p.warnings.length > 0) {
    lines.push("", "Warnings:");
    for (const w of p.warnings) lines.push(`  ! ${w}`);
  }
  const transactions = new Set(p.steps.map((s) => `${s.database}/${s.unit}`)).size;
  lines.push(
    "",
    p.steps.length === 0 && p.problems.length === 0
      ? `No changes: database ${p.database} matches stack ${p.stack}.`
      : `Plan: ${p.steps.length} change(s) in ${transactions} transaction(s)${p.problems.length ? `, ${p.problems.length} problem(s)` : ""}.`,
  );
  return lines.join("\n") + "\n";
}

/** apply's progress (stderr): each transaction and step as it starts and as it ends, with its time. */
export function applyProgress(write: (line: string) => void): (e: ApplyEvent) => void {
  return (e) => {
    switch (e.type) {
      case "waiting":
        return write(`${e.unit}: waiting up to ${elapsed(e.budgetMs)} for another apply of it, ${e.holder ? `held by ${e.holder}` : "which has just finished"}`);
      case "transaction":
        return write(`${e.unit} (database ${e.database}): ${e.steps} change(s) in one transaction`);
      case "step":
        return write(`  … ${e.summary}`);
      case "step-done":
        return write(`    done in ${elapsed(e.ms)}${e.maintenance ? `: ${maintenanceLine(e.maintenance)}` : ""}`);
      case "committed":
        return write(`  ✓ committed in ${elapsed(e.ms)}`);
      case "failed":
        return write(`  ✗ failed after ${elapsed(e.ms)}: ${e.failure.message.split("\n")[0]}`);
    }
  };
}

/** What an apply did, per unit: the steps that committed (their SQL is what `plan` printed; --json
 *  has it), the maintenance run's results, and what was blocked or failed instead. */
export function formatApply(p: Plan, r: ApplyResult): string {
  const lines = [`Stack ${p.stack} → database ${p.database}`];
  for (const u of r.applied) {
    lines.push(`  ✓ ${u.unit}${u.database !== p.database ? ` (in database ${u.database})` : ""}: applied in ${elapsed(u.ms)}`);
    for (const s of u.steps) lines.push(`      ${SYMBOL[s.action]} ${s.summary}`);
    for (const m of r.maintenance.filter((m) => m.unit === u.unit)) {
      lines.push(`      ${m.notYetExpired.length > 0 ? "!" : SYMBOL["run-maintenance"]} maintenance of ${m.table}: ${maintenanceLine(m)}`);
      if (m.notYetExpired.length > 0) lines.push(`        not expired yet, as the plan said they would be: ${m.notYetExpired.join(", ")}; the next maintenance run expires them`);
    }
  }
  for (const x of r.blocked) lines.push(`  ✗ blocked: ${x.message}`);
  for (const f of r.failed) lines.push(`  ✗ failed: ${f.message.replace(/\n/g, "\n      ")}`);
  const steps = r.applied.reduce((n, u) => n + u.steps.length, 0);
  const notApplied = r.blocked.length + r.failed.length + r.maintenance.filter((m) => m.notYetExpired.length > 0).length;
  lines.push(
    "",
    r.applied.length === 0 && notApplied === 0
      ? `No changes: database ${p.database} matches stack ${p.stack}.`
      : `Applied ${steps} change(s) in ${r.applied.length} transaction(s)${notApplied ? `; ${notApplied} not applied (above): the rest is unchanged for them` : ""}.`,
  );
  return lines.join("\n") + "\n";
}

function maintenanceLine(m: MaintenanceResult): string {
  return m.run ? describeRun(m.run) : "no run recorded";
}

export function formatStatus(r: StatusReport): string {
  const lines = [`Stack ${r.stack} → database ${r.database}, pg_partman ${r.partmanVersion ?? "not installed"}, now ${time(r.now)}`];
  for (const t of r.tables) lines.push("", ...formatTable(t));
  if (r.tables.some((t) => t.partitions.length > 0)) {
    lines.push(
      "",
      `ROWS: counted exactly for partitions up to ${bytes(EXACT_COUNT_MAX_BYTES)}; ~ an estimate from the last ANALYZE; "not analyzed": a bigger partition never analyzed yet (ANALYZE it for an estimate).`,
    );
  }
  lines.push("");
  if (r.job) {
    const run = r.job.lastRun;
    lines.push(
      `Maintenance job ${r.job.jobname} (jobid ${r.job.jobid}, runs in database ${r.job.database}): "${r.job.schedule}", ${r.job.active ? "active" : "INACTIVE"}`,
      `  command: ${r.job.command}`,
      `  last run: ${run ? `${run.status} at ${time(run.start)}${run.end ? `, took ${duration(run.start, run.end)}` : ""}${run.message && run.status !== "succeeded" ? ` (${run.message})` : ""}` : "none recorded yet"}`,
    );
  } else {
    lines.push(`Maintenance job: not scheduled${r.cronDatabase ? ` (pg_cron in database ${r.cronDatabase})` : " (pg_cron not loaded)"}`);
  }
  for (const w of r.warnings) lines.push("", `WARNING: ${w}`);
  return lines.join("\n") + "\n";
}

/** An interval as part_config holds it ("1 mon", "01:00:00", "7 days") in the words a stack file uses. */
function intervalText(interval: string | null): string {
  if (interval === null) return "?";
  const clock = (_: string, h: string, m: string, sec: string) =>
    [[Number(h), "hour"], [Number(m), "minute"], [Number(sec), "second"]]
      .filter(([n]) => n !== 0)
      .map(([n, unit]) => `${n} ${unit}${n === 1 ? "" : "s"}`)
      .join(" ");
  return interval.replace(/\b(\d+) mons?\b/g, (_, n: string) => `${n} month${n === "1" ? "" : "s"}`).replace(/\b(\d{2}):(\d{2}):(\d{2})\b/, clock).trim();
}

function formatTable(t: TableStatus): string[] {
  if (t.state === "missing") return [`${t.name}: does not exist (run apply)`];
  if (t.state === "not-partitioned") return [`${t.name}: exists but is NOT partitioned (needs migrating)`];
  const head =
    t.state === "unregistered"
      ? `${t.name}: partitioned but not registered with pg_partman (run apply)`
      : `${t.name}: ${t.type === "list" ? "one partition per value" : t.kind === "id" ? `${Number(t.interval).toLocaleString("en")} ids per partition` : `${intervalText(t.interval)} partitions`}, premake ${t.premake}, retention ${t.retention ?? "none (keep forever)"}` +
        (t.retentionHorizon
          ? t.type === "list"
            ? ` (partitions of values below ${t.retentionHorizon} expire at the next maintenance run)`
            : t.kind === "id"
            ? ` (partitions whose ids all lie below ${t.retentionHorizon} expire at the next maintenance run)`
            : ` (partitions ending before ${time(t.retentionHorizon)} expire at the next maintenance run)`
          : "");
  const bounded = t.partitions.filter((p) => !p.isDefault);
  const run = t.lastMaintenance;
  const lines = [
    head,
    `  ${bounded.length} partition(s), ${bytes(t.totalBytes)}; ${t.partitionsAhead} ahead of ${t.kind === "id" ? `the highest ${t.type === "list" ? "value" : "id"} (${t.maxId ?? "none yet"})` : "now"}${t.coveredUntil ? `, covered until ${time(t.coveredUntil)}` : ""}; ` +
      (t.defaultRows === null ? "no default partition" : `default partition: ${t.defaultRows} row(s)`),
    `  last maintenance: ${run ? `${time(run.startedAt)}: ${describeRun(run)}` : "none recorded yet"}`,
    ...(run?.error ? [`  MAINTENANCE FAILED for this set (the other sets went on); last succeeded ${run.lastSucceededAt ? time(run.lastSucceededAt) : "not in the runs kept (30 days)"}`] : []),
  ];
  const rows = t.partitions.map((p) => [
    p.name,
    ...(t.type === "list" ? [p.isDefault ? "DEFAULT" : p.value ?? "-"] : [p.isDefault ? "DEFAULT" : time(p.from), p.isDefault ? "" : time(p.to)]),
    bytes(p.bytes),
    p.rows === null ? "not analyzed" : rowCount(p.rows, p.rowsExact),
  ]);
  lines.push(...table(["PARTITION", ...(t.type === "list" ? ["VALUE"] : ["FROM", "TO"]), "SIZE", "ROWS"], rows).map((l) => `  ${l}`));
  // Each partition that is partitioned in turn, with its own sub-partitions, indented under it.
  for (const sub of t.subpartitions) lines.push(...formatTable(sub).map((l) => `    ${l}`));
  return lines;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

export function time(iso: string | null): string {
  return iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC") : "-";
}

function duration(from: string | null, to: string): string {
  return from ? elapsed(Date.parse(to) - Date.parse(from)) : "?";
}

function elapsed(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function bytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
