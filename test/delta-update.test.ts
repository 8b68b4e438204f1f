/**
 * Delta updates end to end over real HTTP on 127.0.0.1 with the real publisher: the client
 * downloads the smallest signed delta (with progress events), installs the exact release, and
 * keeps doing so on the next release from its cached tree check; a delta damaged on the server or
 * after download, and a locally modified installed file, make it fall back to the full archive
 * with a `delta-fallback` event and still install the exact release. A plain static server that
 * ignores Range serves deltas too.
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { DeltaFallback } from "../src/client/artifacts/choice.js";
import { checkInstalledTree } from "../src/client/artifacts/delta/tree-check.js";
import { installFromRepository } from "../src/client/first-install.js";
import { installLayout } from "../src/client/install/layout.js";
import type { DownloadProgress } from "../src/client/net/download.js";
import { Updater } from "../src/client/updater.js";
import { parseReleaseManifest } from "../src/formats/native.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { createTestRepo, manifestDigest, publish, signedManifest, type TestRepo, treeDigest } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { pseudoText } from "./helpers/trees.js";
import { availableUpdate } from "./helpers/updates.js";

/** Files of a version: a large text file with a one-line change per version, and small ones. */
function files(version: string): Record<string, string> {
  const big = pseudoText(6000, 1).replace("// 100\n", `// changed in ${version}\n`);
  return {
    "app.sh": `#!/bin/sh\necho ${version}\n`,
    "lib/big.js": big,
    "lib/same.txt": "unchanged in every version\n",
    [`assets/chunk-${version.replaceAll(".", "")}x9Qa.js`]: pseudoText(800, 2).replace("// 5\n", `// ${version}\n`),
  };
}

async function setUp(t: TestContext, serve: "updraft" | "plain" = "updraft") {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  let url: string;
  if (serve === "updraft") url = (await startServer(t, repo.repoDir)).url;
  else {
    const server = await serveStatic(repo.repoDir);
    t.after(() => server.close());
    url = server.url;
  }
  await publish(repo, work, "1.0.0", files("1.0.0"), url);
  const installDir = join(work, "install");
  await installFromRepository({ repoUrl: url, app: repo.app, installDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", files("1.1.0"), undefined, 3);
  const updater = new Updater({ installDir });
  const fallbacks: DeltaFallback[] = [];
  updater.on("delta-fallback", (f) => fallbacks.push(f));
  return { work, repo, installDir, updater, fallbacks };
}

async function deltaFiles(repo: TestRepo, version: string): Promise<string[]> {
  const dir = join(repo.repoDir, repo.app, "targets", "releases", version, "any", "deltas");
  return (await readdir(dir)).map((name) => join(dir, name));
}

async function assertExact(installDir: string, repo: TestRepo, version: string): Promise<void> {
  assert.deepEqual(
    await treeDigest(join(installDir, `app-${version}`)),
    manifestDigest(await signedManifest(repo, version)),
  );
}

test("an update downloads the smallest signed delta, reports progress, and installs the exact release", async (t) => {
  const { work, repo, installDir, updater, fallbacks } = await setUp(t);
  const manifest = await signedManifest(repo, "1.1.0");
  const full = manifest.artifacts.find((a) => a.kind === "full")!;
  const deltas = manifest.artifacts.filter((a) => a.kind.startsWith("delta-"));
  assert.ok(deltas.length >= 1, "the publisher signed at least one delta");
  assert.ok(deltas.every((d) => d.from === "1.0.0" && d.size < full.size * 0.8));
  const smallest = deltas.reduce((a, b) => (b.size < a.size ? b : a));

  const update = await availableUpdate(updater);
  assert.equal(update.artifactKind, smallest.kind);
  assert.equal(update.downloadSize, smallest.size);
  const progress: DownloadProgress[] = [];
  updater.on("download-progress", (p) => progress.push(p));
  const before = updater.traffic.bytes;
  const downloaded = await updater.download(update);
  assert.equal(downloaded.fetched, smallest.size);
  assert.equal(progress.at(-1)?.total, smallest.size);
  assert.equal(progress.at(-1)?.transferred, smallest.size);
  assert.ok(updater.traffic.bytes - before < full.size, "the full archive was not fetched");
  const installed = await updater.install(downloaded);
  assert.equal(installed.version, "1.1.0");
  assert.ok(installed.filesReused >= 1);
  await assertExact(installDir, repo, "1.1.0");
  assert.deepEqual(fallbacks, []);

  // The next release applies from the cached tree check: nothing is hashed.
  await publish(repo, work, "1.2.0", files("1.2.0"), undefined, 3);
  const cached = await checkInstalledTree(installLayout(installDir), manifest);
  assert.equal(cached.bytesHashed, 0);
  assert.equal(cached.modified.length, 0);
  assert.match((await availableUpdate(updater)).artifactKind, /^delta-/);
  await updater.update();
  await assertExact(installDir, repo, "1.2.0");
  assert.deepEqual(fallbacks, []);
});

test("a delta damaged on the server falls back to the full archive and installs the exact release", async (t) => {
  const { repo, installDir, updater, fallbacks } = await setUp(t);
  for (const path of await deltaFiles(repo, "1.1.0")) {
    const bytes = await readFile(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(path, bytes);
  }
  const update = await availableUpdate(updater);
  assert.match(update.artifactKind, /^delta-/);
  const downloaded = await updater.download(update);
  assert.equal(fallbacks.length, 1);
  assert.equal(fallbacks[0]!.from, "1.0.0");
  assert.match(fallbacks[0]!.reason, /download failed/);
  const full = (await signedManifest(repo, "1.1.0")).artifacts.find((a) => a.kind === "full")!;
  assert.equal(downloaded.downloadSize, full.size);
  assert.equal(downloaded.artifactKind, "full");
  assert.equal(update.artifactKind.startsWith("delta-"), true, "the update found by the check is unchanged");
  await updater.install(downloaded);
  await assertExact(installDir, repo, "1.1.0");
});

test("a delta that does not produce the signed files falls back at install and installs the exact release", async (t) => {
  const { repo, installDir, updater, fallbacks } = await setUp(t);
  const downloaded = await updater.download(await availableUpdate(updater));
  const bytes = await readFile(downloaded.path);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  await writeFile(downloaded.path, bytes);
  const announced: string[] = [];
  updater.on("downloaded", (d) => announced.push(d.artifactKind));
  await updater.install(downloaded);
  assert.equal(fallbacks.length, 1);
  assert.match(fallbacks[0]!.reason, /DELTA_INVALID|FILE_MISMATCH/);
  assert.deepEqual(announced, ["full"], "the full archive fetched at install is announced as downloaded");
  await assertExact(installDir, repo, "1.1.0");
  assert.deepEqual(await readdir(join(installDir, ".updraft", "downloads")), []);
});

test("a locally modified installed file makes the client use the full archive", async (t) => {
  const { repo, installDir, updater, fallbacks } = await setUp(t);
  await writeFile(join(installDir, "current", "lib", "big.js"), "edited by hand\n");
  assert.equal((await availableUpdate(updater)).artifactKind, "full");
  assert.equal(fallbacks.length, 1);
  assert.match(fallbacks[0]!.reason, /lib\/big\.js/);
  await updater.update();
  await assertExact(installDir, repo, "1.1.0");
  const manifest = parseReleaseManifest(
    await readFile(join(installDir, ".updraft", "manifests", "1.1.0.json"), "utf8"),
  );
  assert.equal(manifest.version, "1.1.0");
});

test("deltas work from a plain static server that ignores Range requests", async (t) => {
  const { repo, installDir, updater, fallbacks } = await setUp(t, "plain");
  assert.match((await availableUpdate(updater)).artifactKind, /^delta-/);
  await updater.update();
  await assertExact(installDir, repo, "1.1.0");
  assert.deepEqual(fallbacks, []);
});
