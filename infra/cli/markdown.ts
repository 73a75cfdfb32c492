// `plan --format markdown`: a pull-request comment. Per table, what changes, the SQL (folded), and
// any data-loss warning or blocking problem in plain sight.

import { rowCount } from "../engine/data-loss";
import type { Plan, Step } from "../engine/plan";

export function formatPlanMarkdown(p: Plan): string {
  const out = [`### partman-stack plan: stack \`${p.stack}\` → database \`${p.database}\`${p.partmanVersion ? ` (pg_partman ${p.partmanVersion})` : ""}`, ""];
  if (p.problems.length > 0) {
    out.push(`> [!CAUTION]`, `> **Blocked: apply leaves what this names unchanged until it is resolved.**`);
    for (const x of p.problems) out.push(`> - ${escape(x.message)}`);
    out.push("");
  }
  const loss = p.steps.filter((s) => s.dataLoss);
  if (loss.length > 0) {
    out.push(`> [!WARNING]`, `> **Data loss acknowledged (allowDataLoss): this apply drops partitions.**`);
    for (const s of loss) {
      const d = s.dataLoss!;
      out.push(`> - \`${s.table}\`: ${d.partitions.length} partition(s), ${rowCount(d.rows, d.rowsExact)} rows${d.unknownRows ? ` (+${d.unknownRows} not analyzed yet)` : ""}: ${d.partitions.map((x) => `\`${x.name}\``).join(", ")}`);
    }
    out.push("");
  }
  if (p.steps.length === 0 && p.problems.length === 0) {
    out.push(`No changes: the database matches the stack.`);
    return out.join("\n") + "\n";
  }
  const units = new Map<string, Step[]>();
  for (const s of p.steps) units.set(s.unit, [...(units.get(s.unit) ?? []), s]);
  if (units.size > 0) {
    out.push("| | change |", "| --- | --- |");
    for (const [unit, steps] of units) out.push(`| **${escape(unit)}** | ${steps.map((s) => escape(s.summary)).join("<br>")} |`);
    out.push("", "<details><summary>SQL</summary>", "", "```sql");
    for (const [unit, steps] of units) {
      out.push(`-- ${unit}`);
      for (const s of steps) out.push(...s.sql);
    }
    out.push("```", "", "</details>");
  }
  if (p.warnings.length > 0) out.push("", "**Warnings**", ...p.warnings.map((w) => `- ${escape(w)}`));
  return out.join("\n") + "\n";
}

function escape(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/</g, "&lt;");
}
