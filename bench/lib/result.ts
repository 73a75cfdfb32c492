/** One measured figure, partitioned against unpartitioned, taken in the same run on the same data. */
export interface Measurement {
  case: string;
  metric: string;
  unit: "ms" | "bytes" | "rows/s" | "rows";
  partitioned: number | null;
  /** The same partitioned data under partman-stack's maintenance (retention only). */
  stack?: number | null;
  unpartitioned: number | null;
  /** Which direction is better, so the ratio reads as "× in favour of partitioned". */
  better: "lower" | "higher";
  note?: string;
}

export function advantage(m: Measurement, side: "partitioned" | "stack" = "partitioned"): number | null {
  const v = m[side] ?? null;
  if (v === null || m.unpartitioned === null || v === 0 || m.unpartitioned === 0) return null;
  return m.better === "lower" ? m.unpartitioned / v : v / m.unpartitioned;
}
