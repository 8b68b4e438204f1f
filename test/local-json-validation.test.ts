/**
 * JSON read from disk is checked before it is used: a file of the wrong shape is a clear error
 * with a stable code that names the file (never INTERNAL), and nothing is changed because of it.
 * A damaged cache is the exception that proves the rule: it is refused like any other file, then
 * only costs hashing the files again.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { installedManifest } from "../src/client/artifacts/choice.js";
import { checkInstalledTree, parseTreeCache, treeCachePath } from "../src/client/artifacts/delta/tree-check.js";
import { installLayout } from "../src/client/install/layout.js";
import { readSourceRecord, sourceRecordFile } from "../src/client/sources/legacy/source-record.js";
import { ExitCodes, UpdraftError } from "../src/core/errors.js";
import { parseReleaseManifest } from "../src/formats/native.js";
import { readAppSettings } from "../src/publish/app-settings.js";
import { appPaths, loadRepository } from "../src/publish/tuf-repo.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { installedApp } from "./helpers/installed.js";
import { createTestRepo } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const files = (version: string) => ({ "app.sh": `#!/bin/sh\necho ${version}\n`, VERSION: version });

/** Asserts that `run` rejects with `code` and a message naming `file`. */
async function rejectsNaming(run: Promise<unknown> | (() => unknown), code: string, file: string): Promise<void> {
  await assert.rejects(
    async () => (typeof run === "function" ? run() : run),
    (err: unknown) => {
      assert.ok(err instanceof UpdraftError, `an UpdraftError, not ${String(err)}`);
      assert.equal(err.code, code);
      assert.ok(err.message.includes(file), `"${err.message}" names ${file}`);
      return true;
    },
  );
}

test("a source record of the wrong shape is MANIFEST_INVALID naming the file, in the library and in `status`", async (t) => {
  const dir = await tempDir(t);
  const layout = installLayout(dir);
  await mkdir(layout.stateDir, { recursive: true });
  const file = sourceRecordFile(layout);
  for (const planted of [
    [],
    { schema: 1, format: "ftp", url: "http://x", app: "a" },
    { schema: 1, format: "saau", url: 5, app: "a" },
    { schema: 2, format: "saau", url: "http://x", app: "a" },
  ]) {
    const text = JSON.stringify(planted);
    await writeFile(file, text);
    await rejectsNaming(readSourceRecord(layout), "MANIFEST_INVALID", file);
    assert.equal(await readFile(file, "utf8"), text, "the file is left as it was");
  }

  const run = await runCli(["status", "--dir", dir, "--json"]);
  assert.equal(run.code, ExitCodes.CONFIG, run.stdout + run.stderr);
  const error = parseJson(run).error as { code: string; message: string; hint: string };
  assert.equal(error.code, "MANIFEST_INVALID");
  assert.ok(error.message.includes(file));
  assert.match(error.hint, /Delete it/);
});

test("a tree cache of the wrong shape is refused naming the file, and the check hashes the files instead", async (t) => {
  const { appDir } = await installedApp(t, files("1.0.0"));
  const layout = installLayout(appDir);
  const manifest = await installedManifest(layout, "1.0.0");
  assert.ok(manifest, "the installed release's manifest is kept");
  const first = await checkInstalledTree(layout, manifest);
  assert.deepEqual(first.modified, []);

  const file = treeCachePath(layout, "1.0.0");
  const valid = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  for (const planted of [
    null,
    { ...valid, files: ["app.sh"] },
    { ...valid, files: { "app.sh": 7 } },
    { ...valid, treeId: 3 },
    { ...valid, schema: "1" },
  ]) {
    await rejectsNaming(() => parseTreeCache(planted, file, manifest), "MANIFEST_INVALID", file);
    await writeFile(file, JSON.stringify(planted));
    const check = await checkInstalledTree(layout, manifest);
    assert.deepEqual(check.modified, [], "the installed files are still found intact");
    assert.equal(check.fromCache, 0, "nothing is trusted from the damaged cache");
    assert.ok(check.bytesHashed > 0, "the files are hashed instead");
  }
  const again = await checkInstalledTree(layout, manifest);
  assert.equal(again.bytesHashed, 0, "the cache is written again, whole");
});

test("the publisher's settings file of the wrong shape is MANIFEST_INVALID naming it", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "updraft-app.json");
  for (const planted of [[], ["https://example.com/"], { url: 5 }, "https://example.com/"]) {
    const text = JSON.stringify(planted);
    await writeFile(file, text);
    await rejectsNaming(readAppSettings(file, "hello"), "MANIFEST_INVALID", file);
    assert.equal(await readFile(file, "utf8"), text);
  }
});

test("repository metadata that is JSON but not an object is METADATA_INVALID naming the file", async (t) => {
  const dir = await tempDir(t);
  const repo = await createTestRepo(dir);
  const paths = appPaths(repo.repoDir, repo.app);
  const file = join(paths.metadataDir, "timestamp.json");
  const before = await readFile(file, "utf8");
  for (const planted of ["null", "[]", '"timestamp"']) {
    await writeFile(file, planted);
    await rejectsNaming(loadRepository(paths), "METADATA_INVALID", file);
  }
  await writeFile(file, before);
  await loadRepository(paths);
});

test("a release manifest read from a file names that file in its errors", async () => {
  const file = "/releases/1.0.0/manifest.json";
  await rejectsNaming(() => parseReleaseManifest("[]", file), "MANIFEST_INVALID", file);
  await rejectsNaming(() => parseReleaseManifest({ schema: 1, files: {} }, file), "MANIFEST_INVALID", file);
  assert.throws(() => parseReleaseManifest("[]"), /^UpdraftError: Invalid release manifest: "\(document\)"/);
});
