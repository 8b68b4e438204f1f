/** Turns measurements into the table's sections, with the issue's goals. */
import { availableParallelism, loadavg } from "node:os";
import type { PairMeasure } from "./pair.js";
import type { TinyFilesMeasure } from "./publish-speed.js";
import { bestReference } from "./references.js";
import { int, type Row, type Section } from "./table.js";

const MB = 1024 * 1024;

/** Fixed allowance of the total-bytes goal (issue 12): room for TUF metadata, channel and manifest patch. */
const TOTAL_ALLOWANCE_BYTES = 4096;

/** The per-pair sections: delta size, total bytes, apply time, peak RSS and the check when current. */
export function pairSections(pairs: readonly PairMeasure[], applyGoalPair?: string): Section[] {
  const vsFull: Row[] = [];
  const vsTools: Row[] = [];
  const total: Row[] = [];
  const apply: Row[] = [];
  const rss: Row[] = [];
  const check: Row[] = [];
  for (const p of pairs) {
    const bytes = p.update.fetched ?? 0;
    const figure = `${int(bytes)} (${p.update.kind})`;
    vsFull.push({
      label: p.id,
      figure,
      reference: int(p.full.size),
      ratio: bytes / p.full.size,
      goal: "< 1",
      met: bytes < p.full.size,
    });
    const best = bestReference(p.references);
    if (best) {
      const ratio = bytes / best.bytes!;
      vsTools.push({
        label: p.id,
        figure,
        reference: `${int(best.bytes!)} (${best.tool})`,
        ratio,
        goal: "≤ 1.25",
        met: ratio <= 1.25,
      });
      // Everything the update fetched (TUF metadata, channel, manifest or its patch, payload)
      // against issue 12's budget: 1.25 × the best tool + 4 KiB.
      const budget = 1.25 * best.bytes! + TOTAL_ALLOWANCE_BYTES;
      total.push({
        label: p.id,
        figure: `${int(p.update.totalBytes)} (${p.update.totalRequests} requests)`,
        reference: `${int(budget)} (1.25 × ${best.tool} + 4 KiB)`,
        ratio: p.update.totalBytes / budget,
        goal: "≤ 1",
        met: p.update.totalBytes <= budget,
      });
    }
    const installMs = p.update.installMs ?? 0;
    const applyRatio = installMs / p.cpMs;
    apply.push({
      label: p.id,
      figure: `${int(installMs)} ms`,
      reference: `${int(p.cpMs)} ms`,
      ratio: applyRatio,
      ...(p.id === applyGoalPair ? { goal: "≤ 0.2", met: applyRatio <= 0.2 } : {}),
    });
    const peak = p.update.maxRssKB / 1024;
    rss.push({
      label: p.id,
      figure: `${peak.toFixed(0)} MB`,
      reference: "256 MB (goal)",
      ratio: peak / 256,
      goal: "≤ 1",
      met: peak <= 256,
    });
    check.push({
      label: `${p.id} bytes`,
      figure: int(p.current.checkBytes),
      reference: int(p.update.checkBytes),
      ratio: p.current.checkBytes / p.update.checkBytes,
    });
    check.push({
      label: `${p.id} requests`,
      figure: String(p.current.checkRequests),
      reference: String(p.update.checkRequests),
      ratio: p.current.checkRequests / p.update.checkRequests,
    });
  }
  const sections: Section[] = [
    { title: "Delta size (bytes)", figureHeader: "updraft download", referenceHeader: "full tar.zst", rows: vsFull },
  ];
  if (vsTools.length > 0) {
    sections.push({
      title: "Delta size vs tools",
      figureHeader: "updraft download",
      referenceHeader: "best of zstd/bsdiff/xdelta3",
      rows: vsTools,
    });
  }
  if (total.length > 0) {
    sections.push({
      title: "Total update bytes, everything counted",
      figureHeader: "updraft, all requests",
      referenceHeader: "budget",
      rows: total,
    });
  }
  sections.push(
    { title: "Apply time", figureHeader: "updraft install", referenceHeader: "cp -a new tree", rows: apply },
    { title: "Client peak RSS", figureHeader: "updraft client", referenceHeader: "limit", rows: rss },
    { title: "Check when current", figureHeader: "current", referenceHeader: "check finding the update", rows: check },
  );
  return sections;
}

/** The publish-speed section: first publish and publish with deltas against the reference tools. */
export function publishSection(pairs: readonly PairMeasure[], tiny?: TinyFilesMeasure): Section {
  const rows: Row[] = [];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  for (const p of pairs) {
    const ref = p.referencePublish;
    if (!ref) continue;
    const first = p.firstPublishMs / ref.firstMs;
    rows.push({
      label: `${p.id} first`,
      figure: seconds(p.firstPublishMs),
      reference: `${seconds(ref.firstMs)} (tar|zstd)`,
      ratio: first,
      goal: "≤ 1.5",
      met: first <= 1.5,
    });
    const withDeltas = p.publishMs / (ref.packMs + ref.patchMs);
    rows.push({
      label: `${p.id} with deltas`,
      figure: seconds(p.publishMs),
      reference: `${seconds(ref.packMs + ref.patchMs)} (+patch-from)`,
      ratio: withDeltas,
      goal: "≤ 1.5",
      met: withDeltas <= 1.5,
    });
  }
  if (tiny) {
    const label = `${int(tiny.files)} tiny files`;
    const publish = tiny.publishMs / tiny.tarExtractMs;
    const install = tiny.installMs / tiny.tarExtractMs;
    rows.push(
      {
        label: `${label} publish`,
        figure: seconds(tiny.publishMs),
        reference: `${seconds(tiny.tarExtractMs)} (tar -x)`,
        ratio: publish,
        goal: "≤ 3",
        met: publish <= 3,
      },
      {
        label: `${label} install`,
        figure: seconds(tiny.installMs),
        reference: `${seconds(tiny.tarExtractMs)} (tar -x)`,
        ratio: install,
        goal: "≤ 2",
        met: install <= 2,
      },
    );
  }
  return { title: "Publish time", figureHeader: "updraft", referenceHeader: "reference tools", rows };
}

/** The machine's load while the benchmark ran (other work skews every time ratio). */
export function loadNote(): string {
  const [one, five, fifteen] = loadavg();
  return `Load average at the end: ${one!.toFixed(1)} / ${five!.toFixed(1)} / ${fifteen!.toFixed(1)} on ${availableParallelism()} cores.`;
}

/** Every reference tool's result, for the notes under the table. */
export function referenceNotes(pairs: readonly PairMeasure[]): string[] {
  return pairs.map(
    (p) =>
      `${p.id}: ${p.references
        .map((r) => (r.bytes !== undefined ? `${r.tool} ${int(r.bytes)}` : `${r.tool} skipped (${r.skipped})`))
        .join(
          ", ",
        )}; deltas published: ${p.deltas.deltas.map((d) => `${d.kind} ${int(d.size)}`).join(", ") || "none"}; publish ${(p.publishMs / 1000).toFixed(1)} s`,
  );
}

/** Bytes per second as MB/s text. */
export function mbps(bytesPerSec: number): string {
  return `${(bytesPerSec / MB).toFixed(0)} MB/s`;
}
