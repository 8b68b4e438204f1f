/**
 * A publish at real scale, in CI's time limit (the test's timeout): 20,000 files in 200 folders,
 * then the next release with one file changed and a delta. The repository signs both, the
 * manifest of 20,000 entries (megabytes) is reached through a manifest patch of a few hundred
 * bytes, and the metadata a check fetches stays small.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { applyManifestPatch } from "../src/formats/manifest-patch.js";
import { manifestPatchTarget, manifestTarget } from "../src/formats/native.js";
import { publishRelease } from "../src/publish/publish.js";
import { createTestRepo, targetFilePath } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const FOLDERS = 200;
const PER_FOLDER = 100;

async function writeBuild(dir: string, version: string): Promise<void> {
  for (let d = 0; d < FOLDERS; d++) {
    await mkdir(join(dir, `d${d}`), { recursive: true });
    await Promise.all(
      Array.from({ length: PER_FOLDER }, (_, f) =>
        writeFile(join(dir, `d${d}`, `f${f}.txt`), `file ${d}/${f}${d === 7 && f === 7 ? ` of ${version}` : ""}\n`),
      ),
    );
  }
}

test("a publish of 20,000 files, and the next one with a delta and a small manifest patch", {
  timeout: 300_000,
}, async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const publishOne = async (version: string, deltas: number) => {
    const buildDir = join(work, version);
    await writeBuild(buildDir, version);
    return publishRelease({
      repoDir: repo.repoDir,
      app: repo.app,
      version,
      buildDir,
      keys: repo.keys,
      level: 3,
      deltas,
    });
  };
  const first = await publishOne("1.0.0", 0);
  assert.equal(first.fileCount, FOLDERS * PER_FOLDER + 2); // and updraft.json, updraft-root.json
  const second = await publishOne("1.0.1", 1);
  t.diagnostic(`publish times: ${first.timings.totalMs} ms, then ${second.timings.totalMs} ms with a delta`);
  assert.equal(second.deltas.deltas.length >= 1, true, "the second release has a delta");

  const oldManifest = await readFile(await targetFilePath(repo, manifestTarget("1.0.0", "any")));
  const newManifest = await readFile(await targetFilePath(repo, manifestTarget("1.0.1", "any")));
  const patch = await readFile(await targetFilePath(repo, manifestPatchTarget("1.0.1", "1.0.0", "any")));
  t.diagnostic(`manifest ${newManifest.length} bytes, its patch ${patch.length} bytes`);
  assert.ok(patch.length < 2048, `the patch of a ${newManifest.length}-byte manifest is ${patch.length} bytes`);
  assert.deepEqual(applyManifestPatch(oldManifest, patch, newManifest.length), newManifest);

  // What a check fetches does not grow with the file count: the slot role of the newest release.
  const metadata = join(repo.repoDir, repo.app, "metadata");
  const slot = await stat(join(metadata, `${second.metadata.snapshotVersion}.recent-1.json`));
  assert.ok(slot.size < 2048, `the newest release's role is ${slot.size} bytes`);
});
