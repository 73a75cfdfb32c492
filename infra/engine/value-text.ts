/** A config value as plans, checks and messages show it: strings quoted, null as "(none)". */
export function fmt(v: string | number | boolean | null): string {
  return v === null ? "(none)" : typeof v === "string" ? `"${v}"` : String(v);
}
