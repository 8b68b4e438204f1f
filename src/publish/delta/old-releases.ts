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
import {
  ANY_PLATFORM,
  manifestTarget,
  parseReleaseManifest,
  type ReleaseManifest,
  releaseOfTarget,
} from "../../formats/native.js";
import { type AppPaths, consistentTargetPath } from "../tuf-repo.js";
import type { SourceFile } from "./sources.js";

/** A previous release found in the repository. */
export interface PreviousRelease {
  version: string;
  manifest: ReleaseManifest;
  /** Absolute path of its full archive. */
  archivePath: string;
}

/** Which previous releases {@link previousReleases} looks for. */
export interface PreviousReleasesQuery {
  channel: string;
  /** Only builds for this platform (releases published before platforms are `any`). */
  platform: string;
  /** Only releases below this version. */
  version: string;
  count: number;
}

/**
 * The up to `count` highest releases of the query's channel and platform below its version listed
 * in `targets`, highest first. A release whose manifest or archive cannot be read is left out.
 * `before` is called with each manifest's path before it is read, and with the archive's path of
 * each release taken (a working copy of a remote repository fetches them then).
 */
export async function previousReleases(
  paths: AppPaths,
  targets: Record<string, TargetFile>,
  query: PreviousReleasesQuery,
  before: (path: string) => Promise<unknown> = async () => undefined,
): Promise<PreviousRelease[]> {
  const { channel, platform, version, count } = query;
  // Manifest targets are found by name (entries carry no `custom` since layout v2); the channel
  // is read from each manifest, highest version first, until enough are found.
  const candidates: { version: string; target: TargetFile }[] = [];
  for (const [name, target] of Object.entries(targets)) {
    const release = releaseOfTarget(name);
    if (release === undefined || compareVersions(release, version) >= 0) continue;
    const firstLayout = platform === ANY_PLATFORM && name === manifestTarget(release);
    if (name !== manifestTarget(release, platform) && !firstLayout) continue;
    candidates.push({ version: release, target });
  }
  candidates.sort((a, b) => compareVersions(b.version, a.version));
  const out: PreviousRelease[] = [];
  for (const c of candidates) {
    if (out.length >= count) break;
    try {
      const sha = c.target.hashes.sha256!;
      const file = consistentTargetPath(paths, c.target.path, sha);
      await before(file);
      const manifest = parseReleaseManifest(await readFile(file, "utf8"), file);
      if (manifest.channel !== channel) continue;
      const full = manifest.artifacts.find((a) => a.kind === "full");
      if (!full) continue;
      const archivePath = consistentTargetPath(paths, full.target, full.sha256);
      await before(archivePath);
      out.push({ version: c.version, manifest, archivePath });
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
