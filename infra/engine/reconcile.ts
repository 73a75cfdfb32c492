// The engine's entry points: introspect → plan, and (under the apply fences) introspect → plan → apply.

import type { StackSpec } from "../config/types";
import type { Session } from "../db/session";
import { apply, DEFAULT_LOCK_WAIT_MS, type ApplyOptions, type ApplyResult, type FailedUnit } from "./apply";
import { applyFence, holdFences, type FenceHold, type FenceRequest } from "./fence";
import { introspect } from "./introspect";
import { installedPartman } from "../partman/extension";
import { MAINTENANCE_SCHEMA, maintenanceObjects } from "../partman/maintenance-objects";
import { ALL_PARTS, EXTENSIONS_UNIT, JOB_UNIT, OBJECTS_UNIT, plan, tableUnit, type Plan, type PlanPart } from "./plan";

export async function planStack(session: Session, spec: StackSpec, parts: readonly PlanPart[] = ALL_PARTS): Promise<Plan> {
  return plan(spec, await introspect(session, spec), parts);
}

/** pg_partman and partman-stack's objects, which hold the fences: applied before the fences are
 *  taken, their SQL taking turns by itself (see createExtensionSql and maintenanceObjects). */
const FOUNDATION = [EXTENSIONS_UNIT, OBJECTS_UNIT];

/** Whether pg_partman and this version's objects are installed, read from the catalog alone: then
 *  an apply takes its fences at once, without a plan of its own first. */
async function foundationInPlace(session: Session): Promise<boolean> {
  const partman = await installedPartman(session.target);
  if (!partman) return false;
  const r = await session.target.query<{ mark: string | null }>(`SELECT obj_description(to_regnamespace($1), 'pg_namespace') AS mark`, [MAINTENANCE_SCHEMA]);
  return r.rows[0].mark === maintenanceObjects(partman).mark;
}

/** The units an apply of these parts may change besides the foundation: each is fenced while it is
 *  planned and applied. */
function fencedUnits(spec: StackSpec, parts: readonly PlanPart[]): string[] {
  return [...(parts.includes("tables") ? spec.tables.map((t) => tableUnit(t.name)) : []), ...(parts.includes("job") ? [JOB_UNIT] : [])].sort();
}

/** Plans again under the fences, so what runs is computed from the state it runs against. Applies
 *  of different tables of one database run side by side (the Pulumi engine creates independent
 *  resources concurrently); two applies of the same unit take turns, within the wait budget. */
export async function applyStack(
  session: Session,
  spec: StackSpec,
  opts: ApplyOptions = {},
  parts: readonly PlanPart[] = ALL_PARTS,
): Promise<{ plan: Plan; result: ApplyResult }> {
  const deadline = Date.now() + (opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
  let foundation: Plan | null = null;
  let laid: ApplyResult | null = null;
  if (!(await foundationInPlace(session))) {
    const first = await planStack(session, spec, parts);
    foundation = { ...first, steps: first.steps.filter((s) => FOUNDATION.includes(s.unit)), problems: first.problems.filter((x) => FOUNDATION.includes(x.unit)) };
    laid = foundation.steps.length > 0 ? await apply(session, foundation, { ...opts, unavailable: [] }) : null;
    // Without pg_partman nothing else can change (plan says why), and a failed foundation stops the rest.
    if (first.partmanVersion === null || (laid && laid.failed.length > 0)) {
      return { plan: first, result: laid ? { ...laid, blocked: first.problems } : { applied: [], blocked: first.problems, failed: [], maintenance: [] } };
    }
  }

  let hold: FenceHold | null = null;
  try {
    const units = fencedUnits(spec, parts);
    const fences = units.map(applyFence);
    const unitOf = (fence: FenceRequest) => units[fences.indexOf(fence)];
    hold = await holdFences(session, fences, {
      deadline,
      onWait: (fence, holder, budgetMs) => opts.progress?.({ type: "waiting", unit: unitOf(fence), holder, budgetMs }),
    });
    const unavailable: FailedUnit[] = hold.unavailable.map((e) => ({
      unit: unitOf(e.fence),
      message: `${unitOf(e.fence)}: another session is applying it: ${e.message}; nothing was changed for it: run apply again once that session has finished`,
    }));
    const p = await planStack(session, spec, parts);
    const result = await apply(session, p, { ...opts, unavailable });
    return {
      plan: { ...p, steps: [...(foundation?.steps ?? []), ...p.steps] },
      result: laid ? { ...result, applied: [...laid.applied, ...result.applied], maintenance: [...laid.maintenance, ...result.maintenance] } : result,
    };
  } finally {
    await hold?.release();
  }
}
