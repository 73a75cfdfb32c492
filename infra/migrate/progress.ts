// Copy progress: a bar with rows, rate and ETA on a terminal; plain lines elsewhere (CI logs).

export interface Progress {
  copied: number;
  /** The live table's estimated size; the copy may find more rows than this. */
  total: number;
  rowsPerSecond: number;
  pendingChanges: number;
}

export function etaSeconds(p: Progress): number | null {
  if (p.rowsPerSecond <= 0) return null;
  return Math.max(0, (p.total - p.copied) / p.rowsPerSecond);
}

export function progressText(p: Progress): string {
  const pct = p.total > 0 ? Math.min(100, Math.floor((p.copied / p.total) * 100)) : 100;
  const eta = etaSeconds(p);
  return `${p.copied.toLocaleString("en")}/${p.total.toLocaleString("en")} rows (${pct}%), ${Math.round(p.rowsPerSecond).toLocaleString("en")} rows/s, ETA ${eta === null ? "?" : duration(eta)}, ${p.pendingChanges.toLocaleString("en")} captured change(s) pending`;
}

export function progressBar(p: Progress, width = 30): string {
  const done = p.total > 0 ? Math.min(width, Math.round((p.copied / p.total) * width)) : width;
  return `[${"#".repeat(done)}${" ".repeat(width - done)}] ${progressText(p)}`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/** Writes progress: redrawn in place on a TTY, a line every `everyMs` otherwise. */
export function progressReporter(out: NodeJS.WriteStream, everyMs = 5000): { update(p: Progress): void; done(): void } {
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      if (out.isTTY) {
        out.write(`\r${progressBar(p)}\x1b[K`);
        drawn = true;
      } else if (Date.now() - last >= everyMs) {
        out.write(`copy: ${progressText(p)}\n`);
        last = Date.now();
      }
    },
    done() {
      if (drawn) out.write("\n");
    },
  };
}
