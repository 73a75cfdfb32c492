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
