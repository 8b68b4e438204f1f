/**
 * A tampered archive, a tampered manifest, metadata signed by an unknown key, and expired
 * metadata are each refused with their own error code, and the installed version stays exactly
 * as it was (every file hashed against its signed manifest, `current` unchanged).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { appendFile, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Metadata, MetadataKind } from "@tufjs/models";
import { Updater } from "../src/client/updater.js";
import { type ErrorCode, ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { roleKeyOf } from "../src/publish/keys.js";
import { publishRelease } from "../src/publish/publish.js";
import { installedApp } from "./helpers/installed.js";
import {
  manifestDigest,
  publish,
  signedManifest,
  type TestRepo,
  targetFilePath,
  treeDigest,
  writeBuild,
} from "./helpers/repo.js";

const files = (version: string) => ({
  "bin/app": `#!/bin/sh\necho ${version}\n`,
  "data.txt": `payload ${version}\n`.repeat(100),
});

function setup(t: import("node:test").TestContext) {
  return installedApp(t, files("1.0.0"));
}

async function assertRefusedAndUntouched(repo: TestRepo, appDir: string, code: ErrorCode): Promise<void> {
  const updater = new Updater({ installDir: appDir });
  const errors: UpdraftError[] = [];
  updater.on("error", (e) => errors.push(e));
  await assert.rejects(
    async () => {
      await updater.update();
    },
    (err: unknown) => {
      assert.ok(err instanceof UpdraftError, `expected UpdraftError, got ${err}`);
      assert.equal(err.code, code, err.message);
      return true;
    },
  );
  assert.equal(errors.length, 1, "one error event");
  assert.equal(errors[0]!.code, code);
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.0.0")));
  const entries = (await readdir(appDir)).sort();
  assert.deepEqual(entries, [".updraft", "app-1.0.0", "current"], "no new version folder left behind");
  assert.deepEqual(await readdir(join(appDir, ".updraft", "staging")).catch(() => []), [], "staging is empty");
}

test("a tampered archive (same length) is refused with TARGET_MISMATCH", async (t) => {
  const { repo, appDir, work } = await setup(t);
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const archive = await targetFilePath(repo, "releases/1.1.0/any/full.tar.zst");
  const bytes = await readFile(archive);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  await writeFile(archive, bytes);
  await assertRefusedAndUntouched(repo, appDir, ErrorCodes.TARGET_MISMATCH);
});

test("a tampered archive (longer than signed) is refused with TARGET_MISMATCH", async (t) => {
  const { repo, appDir, work } = await setup(t);
  await publish(repo, work, "1.1.0", files("1.1.0"));
  await appendFile(await targetFilePath(repo, "releases/1.1.0/any/full.tar.zst"), Buffer.alloc(4096, 1));
  await assertRefusedAndUntouched(repo, appDir, ErrorCodes.TARGET_MISMATCH);
});

test("a tampered release manifest is refused with MANIFEST_MISMATCH", async (t) => {
  const { repo, appDir, work } = await setup(t);
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const path = await targetFilePath(repo, "releases/1.1.0/any/manifest.json");
  const manifest = JSON.parse(await readFile(path, "utf8"));
  manifest.files[0].sha256 = "0".repeat(64);
  await writeFile(path, JSON.stringify(manifest, null, 2));
  await assertRefusedAndUntouched(repo, appDir, ErrorCodes.MANIFEST_MISMATCH);
});

test("metadata signed by an unknown key is refused with METADATA_SIGNATURE", async (t) => {
  const { repo, appDir, work } = await setup(t);
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const tsPath = join(repo.repoDir, repo.app, "metadata", "timestamp.json");
  const raw = JSON.parse(await readFile(tsPath, "utf8"));
  raw.signed.version += 1;
  const forged = Metadata.fromJSON(MetadataKind.Timestamp, raw);
  const intruder = roleKeyOf("timestamp", generateKeyPairSync("ed25519").privateKey, "test");
  forged.sign(intruder.signer, false);
  await writeFile(tsPath, JSON.stringify(forged.toJSON()));
  await assertRefusedAndUntouched(repo, appDir, ErrorCodes.METADATA_SIGNATURE);
});

test("expired metadata is refused with METADATA_EXPIRED", async (t) => {
  const { repo, appDir, work } = await setup(t);
  const buildDir = await writeBuild(join(work, "build-expired"), files("1.1.0"));
  // Signed as if 40 days ago: the 30-day timestamp has expired by now.
  const past = new Date(Date.now() - 40 * 86_400_000);
  await publishRelease({
    repoDir: repo.repoDir,
    app: repo.app,
    version: "1.1.0",
    buildDir,
    keys: repo.keys,
    now: past,
  });
  await assertRefusedAndUntouched(repo, appDir, ErrorCodes.METADATA_EXPIRED);
});

test("a downgrade is not offered: a channel pointing lower than the installed version means up to date", async (t) => {
  const { repo, appDir, work } = await setup(t);
  const buildDir = await writeBuild(join(work, "build-old"), files("0.9.0"));
  await publishRelease({
    repoDir: repo.repoDir,
    app: repo.app,
    version: "0.9.0",
    buildDir,
    keys: repo.keys,
    force: true,
  });
  const result = await new Updater({ installDir: appDir }).check();
  assert.equal(result.latestVersion, "0.9.0");
  assert.equal(result.status, "current");
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
});
