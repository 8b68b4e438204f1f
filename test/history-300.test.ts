/**
 * History that costs O(1) (issue 12): 300 releases published in a loop (tiny builds, deltas on).
 * The bytes a client fetches for a check that finds an update, and for the whole update, are
 * the same at release 300 as at release 3 (within 1.1×), measured on real installs updating
 * over HTTP from our server. Publish work is counted, not timed: the bytes of signed metadata a
 * publish writes, averaged over one archive-bin cycle, stay within 1.5× between the first cycle
 * and the last. After 300 releases every release is still signed, the old ones in archive bins.
 *
 * Deltas (from the previous release) are built where the updates are measured: the releases in
 * slots at release 3 and at release 300. An archived release keeps only its manifest and full
 * archive, so for what the repository signs about older releases deltas make no difference;
 * without them the loop stays within CI's time (a delta build starts worker threads, about ten
 * times the rest of a tiny publish). Both publish-work windows are of publishes without deltas.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { ARCHIVE_BIN_RELEASES, RECENT_SLOTS } from "../src/publish/history.js";
import { publishRelease } from "../src/publish/publish.js";
import { createTestRepo, readSignedTargets, type TestRepo, writeBuild } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { availableUpdate } from "./helpers/updates.js";

const RELEASES = 300;

function version(i: number): string {
  return `1.0.${i}`;
}

/** A tiny build: one line changes per release, the rest stays. */
function files(i: number): Record<string, string> {
  return {
    "app.sh": `#!/bin/sh\necho ${version(i)}\n`,
    "lib/stable.txt": "the same in every release\n".repeat(40),
    "lib/changing.txt": `release ${i}\n${"line of text that stays\n".repeat(30)}`,
  };
}

/** Bytes fetched by one update of an install at release i-1 to release i: the check alone, and in all. */
async function updateBytes(installDir: string, i: number): Promise<{ check: number; total: number; kind: string }> {
  const updater = new Updater({ installDir });
  const update = await availableUpdate(updater);
  assert.equal(update.version, version(i));
  const check = updater.traffic.bytes;
  const downloaded = await updater.download(update);
  await updater.install(downloaded);
  return { check, total: updater.traffic.bytes, kind: update.artifactKind };
}

/** The releases published with deltas (see the top of the file). */
function withDeltas(i: number): boolean {
  return i <= RECENT_SLOTS || i > RELEASES - RECENT_SLOTS;
}

async function publishOne(repo: TestRepo, work: string, i: number): Promise<number> {
  const buildDir = await writeBuild(join(work, "builds", `b${i}`), files(i));
  const result = await publishRelease({
    repoDir: repo.repoDir,
    app: repo.app,
    version: version(i),
    buildDir,
    keys: repo.keys,
    level: 3,
    deltas: withDeltas(i) ? 1 : 0,
  });
  return result.metadataBytes;
}

test("300 releases: check and update bytes and publish work do not grow with the history", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = await startServer(t, repo.repoDir);
  const metadataBytes: number[] = [];
  const measured: Record<number, { check: number; total: number; kind: string }> = {};
  for (let i = 1; i <= RELEASES; i++) {
    const installDir = join(work, `install-${i}`);
    const measure = i === 3 || i === RELEASES;
    if (measure) {
      // A real install of the previous release, which then updates to this one.
      await installFromRepository({ repoUrl: server.url, app: repo.app, installDir, rootSha256: repo.rootSha256 });
    }
    metadataBytes[i] = i === 1 ? await publishOneWithUrl(repo, work, server.url) : await publishOne(repo, work, i);
    if (measure) measured[i] = await updateBytes(installDir, i);
  }
  const first = measured[3]!;
  const last = measured[RELEASES]!;
  t.diagnostic(`update at 3: ${JSON.stringify(first)}; at ${RELEASES}: ${JSON.stringify(last)}`);
  assert.notEqual(first.kind, "full", "the update at release 3 came as a delta");
  assert.notEqual(last.kind, "full", `the update at release ${RELEASES} came as a delta`);
  assert.ok(last.check <= first.check * 1.1, `check bytes ${last.check} at ${RELEASES} vs ${first.check} at 3`);
  assert.ok(last.total <= first.total * 1.1, `update bytes ${last.total} at ${RELEASES} vs ${first.total} at 3`);

  // Publish work, over one archive-bin cycle each: right after the slots filled, and at the end.
  const mean = (from: number) =>
    metadataBytes.slice(from, from + ARCHIVE_BIN_RELEASES).reduce((a, b) => a + b, 0) / ARCHIVE_BIN_RELEASES;
  const early = mean(RECENT_SLOTS + 1);
  const late = mean(RELEASES - RECENT_SLOTS - ARCHIVE_BIN_RELEASES);
  t.diagnostic(`metadata bytes written per publish: ${early.toFixed(0)} early, ${late.toFixed(0)} at the end`);
  assert.ok(late <= early * 1.5, `publish writes ${late} bytes of metadata at the end vs ${early} early`);

  // Every release is still signed: the newest in slots, the others in archive bins.
  const signed = await readSignedTargets(repo);
  for (const i of [1, 5, 150, RELEASES]) assert.ok(signed.signed.targets[`releases/${version(i)}/any/manifest.json`]);
  const metadataFiles = await readdir(join(repo.repoDir, repo.app, "metadata"));
  const bins = new Set(metadataFiles.filter((f) => /\.archive-\d+\.json$/.test(f)).map((f) => f.split(".")[1]));
  assert.equal(bins.size, Math.ceil((RELEASES - RECENT_SLOTS) / ARCHIVE_BIN_RELEASES));
});

async function publishOneWithUrl(repo: TestRepo, work: string, url: string): Promise<number> {
  const buildDir = await writeBuild(join(work, "builds", "b1"), files(1));
  const result = await publishRelease({
    repoDir: repo.repoDir,
    app: repo.app,
    version: version(1),
    buildDir,
    keys: repo.keys,
    level: 3,
    url,
  });
  return result.metadataBytes;
}
