/**
 * Builds real repositories for client tests: keys, an app, releases published by the real
 * publisher, and helpers to read what the repository signed.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink } from "node:fs/promises";
import { join, relative } from "node:path";
import type { ReleaseManifest } from "../../src/formats/native.js";
import { generateKeys, type KeySet, loadKeys } from "../../src/publish/keys.js";
import { initApp, type PublishOptions, publishRelease } from "../../src/publish/publish.js";
import { writeTree } from "./trees.js";

/** A test repository with its keys. */
export interface TestRepo {
  repoDir: string;
  keysDir: string;
  keys: KeySet;
  app: string;
  rootSha256: string;
}

/** Keys for every role in `dir/keys` and an empty repository folder `dir/repo` (the benchmark's too). */
export async function createKeysAndRepository(
  dir: string,
): Promise<{ repoDir: string; keysDir: string; keys: KeySet }> {
  const keysDir = join(dir, "keys");
  await generateKeys(keysDir);
  const keys = await loadKeys({ dir: keysDir, roles: ["root", "targets", "snapshot", "timestamp"], env: {} });
  const repoDir = join(dir, "repo");
  await mkdir(repoDir, { recursive: true });
  return { repoDir, keysDir, keys };
}

/** Creates keys and an initialised app in `dir/repo`. */
export async function createTestRepo(dir: string, app = "hello", url?: string): Promise<TestRepo> {
  const { repoDir, keysDir, keys } = await createKeysAndRepository(dir);
  const init = await initApp({ repoDir, app, keys, ...(url ? { url } : {}) });
  return { repoDir, keysDir, keys, app, rootSha256: init.rootSha256 };
}

/** Writes a build folder whose files are `files` (path → content; content starting with "#!" is executable). */
export function writeBuild(dir: string, files: Record<string, string | Buffer>): Promise<string> {
  const tree = Object.entries(files).map(([path, data]) => [path, { data, mode: executableIfScript(data) }] as const);
  return writeTree(dir, Object.fromEntries(tree));
}

function executableIfScript(content: string | Buffer): number {
  return String(content).startsWith("#!") ? 0o755 : 0o644;
}

/**
 * Publishes `files` as `version`. Without deltas unless `deltas` says how many previous releases
 * to build them from, so tests that tamper with the full archive know what the client downloads.
 */
export async function publish(
  repo: TestRepo,
  workDir: string,
  version: string,
  files: Record<string, string | Buffer>,
  url?: string,
  deltas = 0,
  extra: Partial<Pick<PublishOptions, "health" | "channel" | "reportUrl" | "platform" | "rollout" | "notes">> = {},
): Promise<void> {
  const buildDir = await writeBuild(join(workDir, `build-${version}-${Date.now()}`), files);
  await publishRelease({
    repoDir: repo.repoDir,
    app: repo.app,
    version,
    buildDir,
    keys: repo.keys,
    level: 3,
    deltas,
    ...(url ? { url } : {}),
    ...extra,
  });
}

interface TargetsDoc {
  signed: { targets: Record<string, { length: number; hashes: { sha256: string } }> };
}

/**
 * The targets the app signs now, in every role (following timestamp → snapshot → each role the
 * snapshot lists: top-level targets and the delegated ones), as one targets document.
 */
export async function readSignedTargets(repo: TestRepo): Promise<TargetsDoc> {
  const meta = join(repo.repoDir, repo.app, "metadata");
  const ts = JSON.parse(await readFile(join(meta, "timestamp.json"), "utf8"));
  const snapVersion = ts.signed.meta["snapshot.json"].version;
  const snap = JSON.parse(await readFile(join(meta, `${snapVersion}.snapshot.json`), "utf8"));
  const targets: TargetsDoc["signed"]["targets"] = {};
  for (const [file, entry] of Object.entries(snap.signed.meta as Record<string, { version: number }>)) {
    const role = JSON.parse(await readFile(join(meta, `${entry.version}.${file}`), "utf8")) as TargetsDoc;
    Object.assign(targets, role.signed.targets);
  }
  return { signed: { targets } };
}

/** Path on disk of a target's consistent-snapshot file. */
export async function targetFilePath(repo: TestRepo, name: string): Promise<string> {
  const targets = await readSignedTargets(repo);
  const info = targets.signed.targets[name];
  if (!info) throw new Error(`target ${name} not listed`);
  const slash = name.lastIndexOf("/");
  return join(
    repo.repoDir,
    repo.app,
    "targets",
    name.slice(0, slash),
    `${info.hashes.sha256}.${name.slice(slash + 1)}`,
  );
}

/** The release manifest the repository signed for `version`. */
export async function signedManifest(repo: TestRepo, version: string, platform = "any"): Promise<ReleaseManifest> {
  return JSON.parse(
    await readFile(await targetFilePath(repo, `releases/${version}/${platform}/manifest.json`), "utf8"),
  );
}

/** Every file and symlink under `root`: path → sha256 (files) or "-> target" (links). */
export async function treeDigest(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const rel = relative(root, full).split("\\").join("/");
      const st = await lstat(full);
      if (st.isSymbolicLink()) out.set(rel, `-> ${await readlink(full)}`);
      else if (st.isDirectory()) await walk(full);
      else
        out.set(
          rel,
          createHash("sha256")
            .update(await readFile(full))
            .digest("hex"),
        );
    }
  }
  await walk(root);
  return out;
}

/** The digest a tree holding exactly `manifest` would have. */
export function manifestDigest(manifest: ReleaseManifest): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of manifest.files) out.set(f.path, f.sha256);
  for (const l of manifest.symlinks) out.set(l.path, `-> ${l.target}`);
  return out;
}
