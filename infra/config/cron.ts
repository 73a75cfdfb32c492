// pg_cron schedules as pg_cron 1.4 reads them: five fields, no seconds, no "N seconds" (1.5+).

const FIELDS = [
  { name: "minute", min: 0, max: 59, names: [] as string[] },
  { name: "hour", min: 0, max: 23, names: [] as string[] },
  { name: "day of month", min: 1, max: 31, names: [] as string[] },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/** Why `schedule` is not a cron expression pg_cron 1.4 runs, or null if it is one. */
export function cronScheduleProblem(schedule: string): string | null {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length === 1 && fields[0].startsWith("@")) {
    return `"${schedule}" is a macro; write the five fields instead (e.g. "0 * * * *" for hourly)`;
  }
  if (/^\d+\s+seconds?$/i.test(schedule.trim())) {
    return `"${schedule}": second-based schedules need pg_cron 1.5 or later; the finest schedule pg_cron 1.4 runs is every minute ("* * * * *")`;
  }
  if (fields.length !== 5) {
    return (
      `"${schedule}" has ${fields.length} field(s); pg_cron takes 5 (minute hour day-of-month month day-of-week)` +
      (fields.length === 6 ? " and has no seconds field" : "")
    );
  }
  for (let i = 0; i < 5; i++) {
    const problem = fieldProblem(fields[i], FIELDS[i]);
    if (problem) return `"${schedule}": ${FIELDS[i].name} field "${fields[i]}" ${problem}`;
  }
  return null;
}

function fieldProblem(field: string, spec: (typeof FIELDS)[number]): string | null {
  for (const part of field.split(",")) {
    const m = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/(\d+))?$/i.exec(part);
    if (!m) return `is not a cron field (numbers, ranges a-b, lists a,b, steps */n)`;
    if (m[2] !== undefined && Number(m[2]) === 0) return "has a step of 0";
    if (m[1] === "*") continue;
    for (const v of m[1].split("-")) {
      const n = /^\d+$/.test(v) ? Number(v) : spec.names.indexOf(v.toLowerCase()) + (spec.min === 1 ? 1 : 0);
      if (!/^\d+$/.test(v) && spec.names.indexOf(v.toLowerCase()) < 0) return `has "${v}", which is not a ${spec.name}`;
      if (n < spec.min || n > spec.max) return `has ${v}, outside ${spec.min}-${spec.max}`;
    }
  }
  return null;
}

/** The longest gap between two runs of a valid 5-field schedule, in seconds (found by walking
 *  every minute of two years; day-of-month and day-of-week combine as in cron: either matches
 *  when both are restricted). */
export function cronPeriodSeconds(schedule: string): number {
  const fields = schedule.trim().split(/\s+/);
  const sets = fields.map((f, i) => expand(f, FIELDS[i]));
  const domAll = fields[2] === "*";
  const dowAll = fields[4] === "*";
  const start = Date.UTC(2026, 0, 1);
  let previous: number | null = null;
  let longest = 0;
  for (let t = start; t < start + 2 * 366 * 86_400_000; t += 60_000) {
    const d = new Date(t);
    if (!sets[0].has(d.getUTCMinutes()) || !sets[1].has(d.getUTCHours()) || !sets[3].has(d.getUTCMonth() + 1)) continue;
    const dom = sets[2].has(d.getUTCDate());
    const dow = sets[4].has(d.getUTCDay());
    if (!(domAll || dowAll ? dom && dow : dom || dow)) continue;
    if (previous !== null) longest = Math.max(longest, t - previous);
    previous = t;
  }
  return longest / 1000;
}

function expand(field: string, spec: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  const value = (v: string) => (/^\d+$/.test(v) ? Number(v) : spec.names.indexOf(v.toLowerCase()) + (spec.min === 1 ? 1 : 0));
  for (const part of field.split(",")) {
    const [range, step] = part.split("/");
    const [lo, hi] = range === "*" ? [spec.min, spec.max] : range.includes("-") ? range.split("-").map(value) : [value(range), step ? spec.max : value(range)];
    for (let v = lo; v <= hi; v += Number(step ?? 1)) out.add(spec.name === "day of week" && v === 7 ? 0 : v);
  }
  return out;
}
