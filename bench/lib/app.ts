/**
 * One benchmark repository with one app per release pair, published by the real publisher and
 * installed by the real client; plus the check that an install holds exactly its signed release.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { installFromRepository } from "../../src/client/first-install.js";
import { hashFile } from "../../src/core/hash.js";
import { parseReleaseManifest, type ReleaseManifest } from "../../src/formats/native.js";
import type { KeySet } from "../../src/publish/keys.js";
import { initApp, type PublishResult, publishRelease } from "../../src/publish/publish.js";
import { appPaths, consistentTargetPath } from "../../src/publish/tuf-repo.js";
import { createKeysAndRepository } from "../../test/helpers/repo.js";

/** A repository and its keys. */
export interface BenchRepo {
  repoDir: string;
  keys: KeySet;
  roots: Map<string, string>;
}

/** Creates keys and an empty repository in `workDir` (as the tests do). */
export async function createRepo(workDir: string): Promise<BenchRepo> {
  const { repoDir, keys } = await createKeysAndRepository(workDir);
  return { repoDir, keys, roots: new Map() };
}

/** Initialises `app` in the repository. */
export async function addApp(repo: BenchRepo, app: string, url: string): Promise<void> {
  const init = await initApp({ repoDir: repo.repoDir, app, keys: repo.keys, url });
  repo.roots.set(app, init.rootSha256);
}

/** Publishes `buildDir` as `version` of `app` (level and deltas as given). */
export function publishVersion(
  repo: BenchRepo,
  app: string,
  version: string,
  buildDir: string,
  options: { level?: number; deltas?: number } = {},
): Promise<PublishResult> {
  return publishRelease({ repoDir: repo.repoDir, app, version, buildDir, keys: repo.keys, ...options });
}

/** Installs the channel's current release of `app` into `installDir`. */
export async function install(repo: BenchRepo, app: string, url: string, installDir: string): Promise<void> {
  await installFromRepository({ repoUrl: url, app, installDir, rootSha256: repo.roots.get(app)! });
}

/** The signed manifest of `version` as stored in the repository. */
export async function storedManifest(repo: BenchRepo, result: PublishResult): Promise<ReleaseManifest> {
  const path = consistentTargetPath(appPaths(repo.repoDir, result.app), result.manifest.target, result.manifest.sha256);
  return parseReleaseManifest(await readFile(path, "utf8"));
}

/** Absolute path of a published full archive. */
export function archivePath(repo: BenchRepo, result: PublishResult): string {
  return consistentTargetPath(appPaths(repo.repoDir, result.app), result.archive.target, result.archive.sha256);
}

/** Throws unless every file of `manifest` is in `versionDir` with its signed sha256. */
export async function assertInstalled(versionDir: string, manifest: ReleaseManifest): Promise<void> {
  for (const f of manifest.files) {
    const actual = await hashFile(join(versionDir, f.path));
    if (actual.sha256 !== f.sha256) throw new Error(`${versionDir}/${f.path} does not match the signed manifest`);
  }
}
