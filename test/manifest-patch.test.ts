/**
 * Manifest patches over real HTTP (python-free: our test static server, which logs requests):
 * an update fetches `manifest.from-<installed>.zpatch` instead of the whole manifest and keeps the
 * result byte-exact for the next update; a tampered patch is refused (its signed hash) and the
 * whole manifest fetched, and so is an authentic patch whose result does not match (the local
 * manifest it applies to was altered): one extra request, never trust, the update still exact.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { installLayout } from "../src/client/install/layout.js";
import { Updater } from "../src/client/updater.js";
import { applyManifestPatch, encodeManifestPatch } from "../src/formats/manifest-patch.js";
import { manifestPatchTarget, manifestTarget } from "../src/formats/native.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { createTestRepo, manifestDigest, publish, signedManifest, targetFilePath, treeDigest } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { availableUpdate } from "./helpers/updates.js";

/** A release of 300 small files, one of which changes per version: a manifest of tens of kilobytes. */
function files(version: string): Record<string, string> {
  const out: Record<string, string> = { "app.sh": `#!/bin/sh\necho ${version}\n` };
  for (let i = 0; i < 300; i++) out[`lib/module-${i}.js`] = `export const n = ${i};\n`;
  out["lib/module-7.js"] = `export const n = "${version}";\n`;
  return out;
}

async function setUp(t: TestContext) {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = await serveStatic(repo.repoDir);
  t.after(() => server.close());
  await publish(repo, work, "1.0.0", files("1.0.0"), server.url);
  const installDir = join(work, "install");
  await installFromRepository({ repoUrl: server.url, app: repo.app, installDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", files("1.1.0"), undefined, 1);
  const manifestPath = await targetFilePath(repo, manifestTarget("1.1.0", "any"));
  const patchPath = await targetFilePath(repo, manifestPatchTarget("1.1.0", "1.0.0", "any"));
  const fetched = (path: string) => server.requests.some((p) => p.endsWith(path.slice(path.lastIndexOf("/") + 1)));
  return { work, repo, server, installDir, manifestPath, patchPath, fetched };
}

async function updateExact(installDir: string, repo: Awaited<ReturnType<typeof setUp>>["repo"]) {
  const updater = new Updater({ installDir });
  const update = await availableUpdate(updater);
  assert.equal(update.version, "1.1.0");
  await updater.install(await updater.download(update));
  assert.deepEqual(
    await treeDigest(join(installDir, "app-1.1.0")),
    manifestDigest(await signedManifest(repo, "1.1.0")),
  );
  return updater;
}

test("encode and apply round-trip; applying to other bytes or past the cap throws", () => {
  const old = Buffer.from(JSON.stringify({ files: files("1.0.0") }, null, 2));
  const next = Buffer.from(JSON.stringify({ files: files("1.1.0") }, null, 2));
  const patch = encodeManifestPatch(old, next);
  assert.ok(patch.length < next.length / 20, `patch ${patch.length} bytes for a ${next.length}-byte manifest`);
  assert.deepEqual(applyManifestPatch(old, patch, next.length), next);
  assert.throws(() => applyManifestPatch(old, patch, next.length - 1));
  const other = Buffer.from(old.toString().replace("export", "EXPORT"));
  let result: Buffer | undefined;
  try {
    result = applyManifestPatch(other, patch, next.length);
  } catch {
    result = undefined;
  }
  assert.notDeepEqual(result, next, "a patch applied to other bytes never yields the new manifest");
});

test("an update fetches the manifest patch, not the manifest, and keeps the manifest byte-exact", async (t) => {
  const { repo, server, installDir, manifestPath, patchPath, fetched } = await setUp(t);
  server.requests.length = 0;
  const updater = await updateExact(installDir, repo);
  assert.ok(fetched(patchPath), "the patch was fetched");
  assert.ok(!fetched(manifestPath), "the whole manifest was not");
  const manifestBytes = await readFile(manifestPath);
  const patchBytes = await readFile(patchPath);
  assert.ok(patchBytes.length * 10 < manifestBytes.length, `patch ${patchBytes.length} vs ${manifestBytes.length}`);
  assert.ok(updater.traffic.bytes < manifestBytes.length, `update fetched ${updater.traffic.bytes} bytes in all`);
  const kept = await readFile(installLayout(installDir).manifestFile("1.1.0"));
  assert.deepEqual(kept, manifestBytes, "the installed manifest is the signed bytes");
});

test("a tampered patch is refused and the whole manifest fetched", async (t) => {
  const { repo, server, installDir, manifestPath, patchPath, fetched } = await setUp(t);
  const patch = await readFile(patchPath);
  patch[patch.length - 1]! ^= 0xff;
  await writeFile(patchPath, patch);
  server.requests.length = 0;
  await updateExact(installDir, repo);
  assert.ok(fetched(patchPath) && fetched(manifestPath), "the patch, then the whole manifest");
});

test("an authentic patch whose result does not match (altered local manifest) falls back to the whole manifest", async (t) => {
  const { repo, server, installDir, manifestPath, patchPath, fetched } = await setUp(t);
  const local = installLayout(installDir).manifestFile("1.0.0");
  await writeFile(local, (await readFile(local, "utf8")).replace('"notes"', '"notes" ').replace("\n}", "}\n"));
  server.requests.length = 0;
  await updateExact(installDir, repo);
  assert.ok(fetched(patchPath) && fetched(manifestPath), "the patch, then the whole manifest");
});
