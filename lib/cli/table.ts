// Plain-text tables for the commands' summaries.

/** Rows of cells as aligned columns: the first column left-aligned, the others right-aligned. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd()).join('\n');
}

export const percent = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '-');
