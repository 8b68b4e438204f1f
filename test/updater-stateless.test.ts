/**
 * The Updater keeps no state between calls: `check()` answers with one of three cases, and the
 * `Update` it returns is a value that any Updater of the same install folder downloads and
 * installs, and that no other folder, no copy and no stale install accepts.
 */
import assert from "node:assert/strict";
import { readlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { recordFailure } from "../src/client/install/attempts.js";
import { installLayout } from "../src/client/install/layout.js";
import { hostPlatform, type Update, Updater } from "../src/client/updater.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { installedApp } from "./helpers/installed.js";
import { manifestDigest, publish, signedManifest, treeDigest } from "./helpers/repo.js";
import { availableUpdate } from "./helpers/updates.js";

const files = (version: string) => ({ "app.txt": `${version}\n`, "lib/data.txt": `data of ${version}\n` });

/** Asserts that `promise` fails with an UpdraftError of `code` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<UpdraftError> {
  let caught: UpdraftError | undefined;
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof UpdraftError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    caught = e;
    return true;
  });
  return caught!;
}

test("check() answers current, available with an Update, or skipped for a version held back after a failure", async (t) => {
  const { work, repo, appDir } = await installedApp(t, files("1.0.0"));
  const updater = new Updater({ installDir: appDir });
  assert.deepEqual(await updater.check(), {
    status: "current",
    currentVersion: "1.0.0",
    latestVersion: "1.0.0",
    channel: "stable",
    platform: hostPlatform(),
  });

  await publish(repo, work, "1.1.0", files("1.1.0"));
  const available = await updater.check();
  assert.ok(available.status === "available");
  const manifest = await signedManifest(repo, "1.1.0");
  const full = manifest.artifacts.find((a) => a.kind === "full")!;
  assert.deepEqual(
    { ...available.update },
    {
      version: "1.1.0",
      currentVersion: "1.0.0",
      channel: "stable",
      releasedAt: manifest.releasedAt,
      downloadSize: full.size,
      artifactKind: "full",
    },
  );
  assert.ok(Object.isFrozen(available.update), "an Update cannot be changed");
  assert.throws(() => {
    (available.update as { version: string }).version = "9.9.9";
  }, TypeError);

  await recordFailure(installLayout(appDir), "1.1.0", "it did not start");
  const skipped = await updater.check();
  assert.ok(skipped.status === "skipped");
  assert.equal(skipped.latestVersion, "1.1.0");
  assert.equal(skipped.skipped.version, "1.1.0");
  assert.equal(skipped.skipped.reason, "it did not start");
  assert.ok(Date.parse(skipped.skipped.retryAfter) > Date.now());
  await rejectsWith(updater.update(), ErrorCodes.NO_UPDATE, /1\.1\.0 is held back after it failed: it did not start/);
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
});

test("an Update found by one Updater is downloaded by a second and installed by a third of the same folder", async (t) => {
  const { work, repo, appDir } = await installedApp(t, files("1.0.0"));
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const update = await availableUpdate(new Updater({ installDir: appDir }));
  const downloaded = await new Updater({ installDir: appDir }).download(update);
  assert.equal(downloaded.version, "1.1.0");
  assert.ok(downloaded.fetched > 0);
  const installer = new Updater({ installDir: appDir });
  const seen: string[] = [];
  installer.on("downloaded", () => seen.push("downloaded"));
  installer.on("installed", (r) => seen.push(`installed ${r.version}`));
  const installed = await installer.install(downloaded);
  assert.equal(installed.version, "1.1.0");
  assert.equal(installed.previousVersion, "1.0.0");
  assert.deepEqual(seen, ["installed 1.1.0"], "the downloaded artifact was used, not fetched again");
  assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
});

test("install() of an Update not downloaded yet downloads it first", async (t) => {
  const { work, repo, appDir } = await installedApp(t, files("1.0.0"));
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const updater = new Updater({ installDir: appDir });
  const update = await availableUpdate(updater);
  const downloads: number[] = [];
  updater.on("downloaded", (d) => downloads.push(d.fetched));
  assert.equal((await updater.install(update)).version, "1.1.0");
  assert.deepEqual(downloads, [update.downloadSize]);
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
});

test("an Update is refused by another install folder, and a copy of one is refused everywhere (USAGE)", async (t) => {
  const one = await installedApp(t, files("1.0.0"));
  const other = await installedApp(t, files("1.0.0"));
  await publish(one.repo, one.work, "1.1.0", files("1.1.0"));
  const update = await availableUpdate(new Updater({ installDir: one.appDir }));
  const elsewhere = new Updater({ installDir: other.appDir });
  await rejectsWith(elsewhere.download(update), ErrorCodes.USAGE, /was found for .*, not /);
  await rejectsWith(elsewhere.install(update), ErrorCodes.USAGE, /was found for .*, not /);
  const copy: Update = { ...update };
  const same = new Updater({ installDir: one.appDir });
  await rejectsWith(same.download(copy), ErrorCodes.USAGE, /Not an update found by Updater\.check\(\)/);
  await rejectsWith(same.install(copy), ErrorCodes.USAGE, /Not an update found by Updater\.check\(\)/);
  assert.equal(await readlink(join(other.appDir, "current")), "app-1.0.0");
  assert.equal(await readlink(join(one.appDir, "current")), "app-1.0.0");
});

test("an Update made stale by another install (a newer version installed meanwhile) is refused with NO_UPDATE", async (t) => {
  const { work, repo, appDir } = await installedApp(t, files("1.0.0"));
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const slow = new Updater({ installDir: appDir });
  const update = await availableUpdate(slow);
  const downloaded = await slow.download(update);
  await publish(repo, work, "1.2.0", files("1.2.0"));
  assert.equal((await new Updater({ installDir: appDir }).update()).version, "1.2.0");

  const stale = /update to 1\.1\.0 was found when 1\.0\.0 was installed; 1\.2\.0 is installed now/;
  const e = await rejectsWith(slow.install(downloaded), ErrorCodes.NO_UPDATE, stale);
  assert.deepEqual(e.details, { version: "1.1.0", foundWith: "1.0.0", installed: "1.2.0" });
  assert.match(e.hint ?? "", /Check again/);
  await rejectsWith(slow.download(update), ErrorCodes.NO_UPDATE, stale);
  assert.equal(await readlink(join(appDir, "current")), "app-1.2.0");
  assert.deepEqual(await slow.check(), {
    status: "current",
    currentVersion: "1.2.0",
    latestVersion: "1.2.0",
    channel: "stable",
    platform: hostPlatform(),
  });
  await rejectsWith(slow.update(), ErrorCodes.NO_UPDATE, /the installed version is current/);
});
