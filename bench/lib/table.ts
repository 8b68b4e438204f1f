/** The benchmark's output: sections of rows, each figure next to its reference and their ratio. */

/** One row: a label, Updraft's figure, the reference's, and the ratio figure/reference. */
export interface Row {
  label: string;
  figure: string;
  reference: string;
  ratio: number | undefined;
  /** The goal for the ratio, e.g. "≤ 1.25"; checked by `met`. */
  goal?: string;
  met?: boolean;
}

/** A titled group of rows. */
export interface Section {
  title: string;
  figureHeader: string;
  referenceHeader: string;
  rows: Row[];
}

/** Thousands separators. */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Formats sections as aligned text tables. */
export function renderTable(sections: readonly Section[]): string {
  const lines: string[] = [];
  for (const s of sections) {
    const header = [s.title, s.figureHeader, s.referenceHeader, "ratio", "goal"];
    const body = s.rows.map((r) => [
      r.label,
      r.figure,
      r.reference,
      r.ratio === undefined ? "n/a" : r.ratio < 0.01 ? r.ratio.toExponential(2) : r.ratio.toFixed(3),
      r.goal === undefined ? "" : `${r.goal} ${r.met === undefined ? "" : r.met ? "met" : "NOT met"}`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const fmt = (cells: string[]) =>
      cells
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join("  ")
        .trimEnd();
    lines.push(fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmt), "");
  }
  return lines.join("\n");
}
