/** One measured figure, partitioned against unpartitioned, taken in the same run on the same data. */
export interface Measurement {
  case: string;
  metric: string;
  unit: "ms" | "bytes" | "rows/s" | "rows";
  partitioned: number | null;
  unpartitioned: number | null;
  /** Which direction is better, so the ratio reads as "× in favour of partitioned". */
  better: "lower" | "higher";
  note?: string;
}

export function advantage(m: Measurement): number | null {
  if (m.partitioned === null || m.unpartitioned === null || m.partitioned === 0 || m.unpartitioned === 0) return null;
  return m.better === "lower" ? m.unpartitioned / m.partitioned : m.partitioned / m.unpartitioned;
}
