/**
 * Applies a downloaded delta as a {@link StageProducer}: confirms the installed tree is the
 * release the delta was built from, hard-links every unchanged file from it (copies when only
 * its mode changed), decodes the needed stream segment by segment into the staging folder with
 * every file checked against the new signed manifest, and creates the symlinks. Any difference
 * throws; the caller falls back to the full archive.
 */
import { linkSync, mkdirSync, symlinkSync } from "node:fs";
import { chmod, copyFile, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { ErrorCodes, type Fail, failWith } from "../../../core/errors.js";
import { DIR_MODE } from "../../../core/fs.js";
import { hashFile } from "../../../core/hash.js";
import {
  DELTA_PREAMBLE_BYTES,
  type DecodedDelta,
  decodeDeltaHeader,
  invalidDelta,
  neededFiles,
  readDeltaPreamble,
  treeId,
} from "../../../formats/delta.js";
import type { ReleaseManifest } from "../../../formats/native.js";
import type { InstallLayout } from "../../install/layout.js";
import type { StageProducer } from "../../install/versioned.js";
import { syncTree } from "../sync-tree.js";
import type { ExtractStats } from "../tar-zst.js";
import { forEachLimited } from "./concurrency.js";
import { NeededWriter } from "./needed-writer.js";
import { underRoot } from "./paths.js";
import { decodeSegment, ReferenceReader } from "./segments.js";
import { BATCH, checkInstalledTree, type TreeCheckResult } from "./tree-check.js";

/** What a delta install needs. */
export interface DeltaApplyOptions {
  layout: InstallLayout;
  /** Signed manifest of the installed release the delta starts from. */
  installed: ReleaseManifest;
  /** Signed manifest of the release to produce. */
  manifest: ReleaseManifest;
  /** The verified delta file. */
  deltaPath: string;
  /** The artifact kind the manifest lists for it. */
  kind: string;
  /** Receives the stat identities of the produced tree (to cache its check). */
  onIdentities?: (identities: Map<string, string>) => void;
}

const baseMismatch: Fail = failWith(
  ErrorCodes.DELTA_BASE_MISMATCH,
  "The installed files differ from the release the delta starts from; the full archive is used instead.",
);

/** Reads and checks the header of a delta file against both manifests. */
export async function readDeltaHeader(
  deltaPath: string,
  installed: ReleaseManifest,
  manifest: ReleaseManifest,
): Promise<DecodedDelta> {
  const handle = await open(deltaPath, "r");
  try {
    const first = Buffer.alloc(DELTA_PREAMBLE_BYTES);
    const { bytesRead } = await handle.read(first, 0, first.length, 0);
    const { bodyStart, bodyLength } = readDeltaPreamble(first.subarray(0, bytesRead));
    const body = Buffer.alloc(bodyLength);
    const got = (await handle.read(body, 0, bodyLength, bodyStart)).bytesRead;
    if (got !== bodyLength) readDeltaPreamble(Buffer.alloc(0)); // throws DELTA_INVALID
    const needed = neededFiles(installed.files, manifest.files);
    const neededBytes = needed.reduce((sum, n) => sum + manifest.files[n]!.size, 0);
    return decodeDeltaHeader(
      body,
      { old: installed.files.map((f) => f.size), new: manifest.files.map((f) => f.size) },
      neededBytes,
      bodyStart + bodyLength,
    );
  } finally {
    await handle.close();
  }
}

/** Creates every folder the new tree needs, parents first; returns them (to fsync). */
function makeFolders(stagingDir: string, manifest: ReleaseManifest): string[] {
  const dirs = new Set<string>();
  for (const p of [...manifest.files.map((f) => f.path), ...manifest.symlinks.map((l) => l.path)]) {
    for (let d = dirname(underRoot(stagingDir, p)); d.length > stagingDir.length && !dirs.has(d); d = dirname(d)) {
      dirs.add(d);
    }
  }
  const sorted = [...dirs].sort((a, b) => a.length - b.length);
  for (const d of sorted) mkdirSync(d, DIR_MODE);
  return [stagingDir, ...sorted];
}

/**
 * Hard-links (or copies, when the mode changed) every file the new release shares with the
 * installed one; the copies' paths go to `copied` (to sync).
 */
async function placeUnchanged(
  options: DeltaApplyOptions,
  check: TreeCheckResult,
  stagingDir: string,
  isNeeded: boolean[],
  stats: ExtractStats,
  identities: Map<string, string>,
  copied: string[],
): Promise<void> {
  const source = new Map<string, number>();
  options.installed.files.forEach((f, i) => {
    if (check.good[i] && !source.has(f.sha256)) source.set(f.sha256, i);
  });
  const copies: { file: (typeof options.manifest.files)[number]; src: string; dest: string }[] = [];
  const files = options.manifest.files;
  for (let i = 0; i < files.length; i++) {
    if (isNeeded[i]) continue;
    if (i % BATCH === BATCH - 1) await yieldToLoop();
    const file = files[i]!;
    const from = source.get(file.sha256);
    if (from === undefined) baseMismatch(`No unmodified installed copy of "${file.path}" to reuse`);
    const old = options.installed.files[from]!;
    const src = underRoot(check.root, old.path);
    const dest = underRoot(stagingDir, file.path);
    if (old.mode !== file.mode) {
      // Same content, other mode: a hard link would change the installed file's mode too.
      copies.push({ file, src, dest });
      continue;
    }
    linkSync(src, dest); // synchronous: microseconds each, and there are thousands
    const id = check.identities.get(old.path);
    if (id !== undefined) identities.set(file.path, id);
    stats.linked++;
  }
  await forEachLimited(copies, 8, async ({ file, src, dest }) => {
    await copyFile(src, dest);
    await chmod(dest, file.mode);
    copied.push(dest);
    const actual = await hashFile(dest);
    if (actual.sha256 !== file.sha256) baseMismatch(`"${file.path}" changed while it was being copied`);
    stats.written++;
    stats.bytesWritten += file.size;
  });
}

/**
 * A producer that applies the delta at `deltaPath`. Throws `DELTA_BASE_MISMATCH` when the
 * installed tree is not the delta's base, `DELTA_INVALID` or `FILE_MISMATCH` when the delta does
 * not produce the signed files.
 */
export function fromDelta(options: DeltaApplyOptions): StageProducer {
  return async (stagingDir) => {
    const { installed, manifest } = options;
    const check = await checkInstalledTree(options.layout, installed);
    if (check.modified.length > 0) {
      baseMismatch(
        `${check.modified.length} installed file(s) of ${installed.version} differ from its manifest, e.g. "${check.modified[0]}"`,
      );
    }
    const { header, payloadStart } = await readDeltaHeader(options.deltaPath, installed, manifest);
    if (header.kind !== options.kind) {
      invalidDelta(`it is a ${header.kind}, the manifest says ${options.kind}`);
    }
    if (header.baseTreeId !== treeId(installed.files)) {
      baseMismatch(`The delta starts from another build of ${installed.version} than the one installed`);
    }
    await mkdir(stagingDir, { mode: DIR_MODE });
    const dirs = makeFolders(stagingDir, manifest);
    const needed = neededFiles(installed.files, manifest.files);
    const isNeeded = new Array<boolean>(manifest.files.length).fill(false);
    for (const n of needed) isNeeded[n] = true;
    const stats: ExtractStats = { written: 0, linked: 0, bytesWritten: 0 };
    const identities = new Map<string, string>();
    // Links and decoding overlap: the link loop runs while zstd works in the thread pool.
    const copied: string[] = [];
    const linked = placeUnchanged(options, check, stagingDir, isNeeded, stats, identities, copied);
    linked.catch(() => undefined); // awaited below
    const writer = new NeededWriter(stagingDir, manifest.files, needed);
    const decode = async () => {
      let offset = payloadStart;
      const references = new ReferenceReader(header.segments);
      for (const segment of header.segments) {
        if (segment.refs.some((r) => r.source === "new" && !isNeeded[r.file])) await linked;
        const reference = references.read(segment, (span) => {
          if (span.source === "old") return underRoot(check.root, installed.files[span.file]!.path);
          if (!isNeeded[span.file] || writer.isReady(span.file)) {
            return underRoot(stagingDir, manifest.files[span.file]!.path);
          }
          return invalidDelta("a segment refers to a file not produced yet");
        });
        await decodeSegment({ deltaPath: options.deltaPath, offset, segment, reference }, writer);
        offset += segment.payloadLength;
      }
      writer.finish();
    };
    const [links, decoded] = await Promise.allSettled([linked, decode()]);
    writer.abort();
    if (links.status === "rejected") throw links.reason;
    if (decoded.status === "rejected") throw decoded.reason;
    for (const [path, id] of writer.identities) identities.set(path, id);
    stats.written += writer.filesDone;
    stats.bytesWritten += writer.position;
    for (const l of manifest.symlinks) symlinkSync(l.target, underRoot(stagingDir, l.path));
    await syncTree({ root: stagingDir, files: [...writer.written, ...copied], folders: dirs });
    options.onIdentities?.(identities);
    return stats;
  };
}
