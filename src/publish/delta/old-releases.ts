/**
 * The releases a new release gets deltas from: the last K releases of its channel below it, read
 * from the repository (signed manifest and full archive), each extracted to a temporary folder so
 * delta builders can read any byte of any old file.
 */
import { createReadStream } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { createZstdDecompress } from "node:zlib";
import type { TargetFile } from "@tufjs/models";
import tar from "tar-stream";
import { safeJoin } from "../../core/fs.js";
import { writeHashedFile } from "../../core/hash.js";
import { compareVersions } from "../../core/version.js";
import { ANY_PLATFORM, parseReleaseManifest, type ReleaseManifest } from "../../formats/native.js";
import { type AppPaths, consistentTargetPath } from "../tuf-repo.js";
import type { SourceFile } from "./sources.js";

/** A previous release found in the repository. */
export interface PreviousRelease {
  version: string;
  manifest: ReleaseManifest;
  /** Absolute path of its full archive. */
  archivePath: string;
}

function updraftCustom(target: TargetFile): Record<string, unknown> | undefined {
  const updraft = target.custom.updraft;
  return typeof updraft === "object" && updraft !== null ? (updraft as Record<string, unknown>) : undefined;
}

/** Which previous releases {@link previousReleases} looks for. */
export interface PreviousReleasesQuery {
  channel: string;
  /** Only builds for this platform (targets published before platforms are `any`). */
  platform: string;
  /** Only releases below this version. */
  version: string;
  count: number;
}

/**
 * The up to `count` highest releases of the query's channel and platform below its version listed
 * in `targets`, highest first. A release whose manifest or archive cannot be read is left out.
 */
export async function previousReleases(
  paths: AppPaths,
  targets: Record<string, TargetFile>,
  query: PreviousReleasesQuery,
): Promise<PreviousRelease[]> {
  const { channel, platform, version, count } = query;
  const candidates: { version: string; target: TargetFile }[] = [];
  for (const target of Object.values(targets)) {
    const custom = updraftCustom(target);
    if (custom?.kind !== "manifest" || custom.channel !== channel || typeof custom.version !== "string") continue;
    if ((typeof custom.platform === "string" ? custom.platform : ANY_PLATFORM) !== platform) continue;
    if (compareVersions(custom.version, version) >= 0) continue;
    candidates.push({ version: custom.version, target });
  }
  candidates.sort((a, b) => compareVersions(b.version, a.version));
  const out: PreviousRelease[] = [];
  for (const c of candidates) {
    if (out.length >= count) break;
    try {
      const sha = c.target.hashes.sha256!;
      const file = consistentTargetPath(paths, c.target.path, sha);
      const manifest = parseReleaseManifest(await readFile(file, "utf8"), file);
      const full = manifest.artifacts.find((a) => a.kind === "full");
      if (!full) continue;
      out.push({ version: c.version, manifest, archivePath: consistentTargetPath(paths, full.target, full.sha256) });
    } catch {
      // Unreadable manifest: no delta from that release.
    }
  }
  return out;
}

/**
 * Extracts the regular files of a release's archive into `dir`, checking each against the
 * manifest's size and sha256, and returns them in manifest order with their paths on disk.
 */
export async function extractForDelta(release: PreviousRelease, dir: string): Promise<SourceFile[]> {
  const byPath = new Map(release.manifest.files.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const extract = tar.extract();
  const source = pipeline(createReadStream(release.archivePath), createZstdDecompress(), extract);
  source.catch(() => undefined); // surfaced by the loop below or awaited after it
  for await (const entry of extract) {
    const expected = byPath.get(entry.header.name);
    if (entry.header.type !== "file" || !expected) {
      entry.resume();
      continue;
    }
    const target = safeJoin(dir, expected.path);
    await mkdir(dirname(target), { recursive: true });
    const written = await writeHashedFile(target, entry);
    if (written.size !== expected.size || written.sha256 !== expected.sha256) {
      throw new Error(`${release.archivePath}: "${expected.path}" does not match the release's manifest`);
    }
    seen.add(expected.path);
  }
  await source;
  if (seen.size !== byPath.size) throw new Error(`${release.archivePath} lacks files its manifest lists`);
  return release.manifest.files.map((f) => ({ ...f, absolutePath: safeJoin(dir, f.path) }));
}
