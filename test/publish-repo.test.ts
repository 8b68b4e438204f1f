import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Updater } from "tuf-js";
import { isUpdraftError } from "../src/core/errors.js";
import { sha256Hex } from "../src/core/hash.js";
import { parseAppConfig, parseChannelPointer, parseReleaseManifest } from "../src/formats/native.js";
import { initApp, type KeySet, publishRelease, refreshTimestamp } from "../src/publish/index.js";
import { makeBuild, makeKeys, serveStatic } from "./helpers/publish-fixtures.js";
import { tempDir } from "./helpers/tmp.js";

interface Fixture {
  root: string;
  repo: string;
  build: string;
  keys: KeySet;
}

async function fixture(t: import("node:test").TestContext): Promise<Fixture> {
  const root = await tempDir(t);
  const keys = await makeKeys(join(root, "keys"));
  const build = await makeBuild(join(root, "build"));
  const repo = join(root, "repo");
  await initApp({ repoDir: repo, app: "demo", keys, url: "https://updates.example.com/" });
  return { root, repo, build, keys };
}

/** A fresh tuf-js client trusting the app's 1.root.json, over HTTP. */
async function tufClient(f: Fixture, baseUrl: string, name: string): Promise<Updater> {
  const metadataDir = join(f.root, `client-${name}`, "metadata");
  const targetDir = join(f.root, `client-${name}`, "targets");
  await mkdir(metadataDir, { recursive: true });
  await mkdir(targetDir, { recursive: true });
  await copyFile(join(f.repo, "demo", "metadata", "1.root.json"), join(metadataDir, "root.json"));
  return new Updater({
    metadataDir,
    targetDir,
    metadataBaseUrl: `${baseUrl}/demo/metadata`,
    targetBaseUrl: `${baseUrl}/demo/targets`,
  });
}

async function download(updater: Updater, f: Fixture, name: string): Promise<Buffer> {
  const info = await updater.getTargetInfo(name);
  assert.ok(info, `${name} is listed`);
  await mkdir(join(f.root, "dl"), { recursive: true });
  const path = await updater.downloadTarget(info, join(f.root, "dl", sha256Hex(name)));
  return readFile(path);
}

/** The version in a target's `custom.updraft`, as the client sees it. */
async function listedVersion(updater: Updater, name: string): Promise<unknown> {
  const info = await updater.getTargetInfo(name);
  return (info?.custom.updraft as { version?: unknown } | undefined)?.version;
}

test("init writes root v1 and empty roles; a second init is REPO_EXISTS", async (t) => {
  const root = await tempDir(t);
  const keys = await makeKeys(join(root, "keys"));
  const repo = join(root, "repo");
  const result = await initApp({ repoDir: repo, app: "demo", keys });
  const meta = join(repo, "demo", "metadata");
  assert.deepEqual((await readdir(meta)).sort(), [
    "1.root.json",
    "1.snapshot.json",
    "1.targets.json",
    "root.json",
    "timestamp.json",
  ]);
  const rootBytes = await readFile(join(meta, "1.root.json"));
  assert.deepEqual(await readFile(result.rootPath), rootBytes);
  assert.equal(result.rootSha256, sha256Hex(rootBytes));
  const rootJson = JSON.parse(rootBytes.toString("utf8"));
  assert.equal(rootJson.signed.version, 1);
  assert.equal(rootJson.signed.consistent_snapshot, true);
  for (const role of ["root", "targets", "snapshot", "timestamp"]) {
    assert.deepEqual(rootJson.signed.roles[role], { keyids: [keys[role as "root"]!.keyId], threshold: 1 });
  }
  assert.match(rootJson.signed.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await assert.rejects(initApp({ repoDir: repo, app: "demo", keys }), (err) => isUpdraftError(err, "REPO_EXISTS"));
  await assert.rejects(initApp({ repoDir: repo, app: "Bad App", keys }), (err) => isUpdraftError(err, "USAGE"));
  await assert.rejects(initApp({ repoDir: repo, app: "x", keys, url: "ftp://nope" }), (err) =>
    isUpdraftError(err, "USAGE"),
  );
});

test("a published release verifies with the real tuf-js client over HTTP", async (t) => {
  const f = await fixture(t);
  const result = await publishRelease({
    repoDir: f.repo,
    app: "demo",
    version: "1.0.0",
    buildDir: f.build,
    notes: "first",
    keys: f.keys,
  });
  assert.equal(result.channelMoved, true);
  assert.deepEqual(result.metadata, { targetsVersion: 2, snapshotVersion: 2, timestampVersion: 2 });
  assert.deepEqual(result.targets.sort(), [
    "channels/stable.json",
    "releases/1.0.0/any/full.tar.zst",
    "releases/1.0.0/any/manifest.json",
  ]);
  const server = await serveStatic(f.repo);
  t.after(() => server.close());
  const updater = await tufClient(f, server.url, "a");
  await updater.refresh();

  const pointerInfo = await updater.getTargetInfo("channels/stable.json");
  assert.deepEqual(pointerInfo?.custom.updraft, { kind: "channel", channel: "stable", version: "1.0.0" });
  const pointer = parseChannelPointer((await download(updater, f, "channels/stable.json")).toString("utf8"));
  assert.equal(pointer.version, "1.0.0");
  assert.equal(pointer.manifest, "releases/1.0.0/any/manifest.json");

  const manifestInfo = await updater.getTargetInfo(pointer.manifest);
  // Release targets carry no custom fields (their names say kind and version), and are signed by
  // the release's slot role, which the client fetched through the top-level delegation.
  assert.deepEqual(manifestInfo?.custom, {});
  assert.ok(server.requests.includes("/demo/metadata/2.recent-0.json"));
  const manifest = parseReleaseManifest((await download(updater, f, pointer.manifest)).toString("utf8"));
  assert.equal(manifest.notes, "first");
  assert.ok(manifest.files.some((x) => x.path === "updraft.json"));
  assert.ok(manifest.files.some((x) => x.path === "updraft-root.json"));
  const full = manifest.artifacts[0]!;
  assert.equal(full.target, "releases/1.0.0/any/full.tar.zst");
  const archiveInfo = await updater.getTargetInfo(full.target);
  assert.deepEqual(archiveInfo?.custom, {});
  assert.equal(archiveInfo?.length, full.size);
  assert.equal(archiveInfo?.hashes.sha256, full.sha256);
  const archive = await download(updater, f, full.target);
  assert.equal(sha256Hex(archive), full.sha256);
  // The client asked for consistent-snapshot names only.
  assert.ok(
    server.requests.some((p) => /\/demo\/targets\/releases\/1\.0\.0\/any\/[0-9a-f]{64}\.full\.tar\.zst$/.test(p)),
  );
  assert.ok(server.requests.includes("/demo/metadata/2.snapshot.json"));
  assert.ok(server.requests.includes("/demo/metadata/2.targets.json"));

  // Metadata format details from docs/format.md.
  const targetsJson = JSON.parse(await readFile(join(f.repo, "demo", "metadata", "2.targets.json"), "utf8"));
  assert.match(targetsJson.signed.expires, /T\d\d:\d\d:\d\dZ$/);
  for (const target of Object.values(targetsJson.signed.targets) as { hashes: { sha256?: string } }[]) {
    assert.match(target.hashes.sha256 ?? "", /^[0-9a-f]{64}$/);
  }
  const tsJson = JSON.parse(await readFile(join(f.repo, "demo", "metadata", "timestamp.json"), "utf8"));
  const days = (Date.parse(tsJson.signed.expires) - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days <= 30, `timestamp expires in ~30 days (${days})`);
});

test("embedded updraft.json and updraft-root.json carry the app, URL, channel and trusted root", async (t) => {
  const f = await fixture(t);
  const result = await publishRelease({
    repoDir: f.repo,
    app: "demo",
    version: "2.0.0",
    buildDir: f.build,
    keys: f.keys,
  });
  const manifestFile = (await readdir(join(f.repo, "demo", "targets", "releases", "2.0.0", "any"))).find((n) =>
    n.endsWith(".manifest.json"),
  )!;
  const manifest = parseReleaseManifest(
    await readFile(join(f.repo, "demo", "targets", "releases", "2.0.0", "any", manifestFile), "utf8"),
  );
  const rootBytes = await readFile(join(f.repo, "demo", "metadata", "1.root.json"));
  assert.equal(manifest.files.find((x) => x.path === "updraft-root.json")?.sha256, sha256Hex(rootBytes));
  const configText = `${JSON.stringify({ schema: 1, app: "demo", url: "https://updates.example.com/", channel: "stable" }, null, 2)}\n`;
  assert.deepEqual(parseAppConfig(configText), {
    schema: 1,
    app: "demo",
    url: "https://updates.example.com/",
    channel: "stable",
  });
  assert.equal(manifest.files.find((x) => x.path === "updraft.json")?.sha256, sha256Hex(configText));
  assert.equal(result.url, "https://updates.example.com/");
});

test("publishing again writes N+1 metadata, keeps the old files, moves the channel only upwards", async (t) => {
  const f = await fixture(t);
  await publishRelease({ repoDir: f.repo, app: "demo", version: "1.0.0", buildDir: f.build, keys: f.keys });
  const build2 = await makeBuild(join(f.root, "build2"), "v2");
  const second = await publishRelease({
    repoDir: f.repo,
    app: "demo",
    version: "1.1.0",
    buildDir: build2,
    keys: f.keys,
  });
  assert.deepEqual(second.metadata, { targetsVersion: 3, snapshotVersion: 3, timestampVersion: 3 });
  assert.equal(second.previousChannelVersion, "1.0.0");
  assert.equal(second.channelMoved, true);
  const meta = await readdir(join(f.repo, "demo", "metadata"));
  for (const name of ["1.targets.json", "2.targets.json", "3.targets.json", "1.snapshot.json", "2.snapshot.json"]) {
    assert.ok(meta.includes(name), name);
  }
  assert.ok(!meta.some((n) => n.endsWith(".tmp")));

  // A lower version on the same channel is published but does not move the pointer.
  const lower = await publishRelease({
    repoDir: f.repo,
    app: "demo",
    version: "1.0.5",
    buildDir: f.build,
    keys: f.keys,
  });
  assert.equal(lower.channelMoved, false);
  assert.match(lower.channelNote, /stays at 1\.1\.0/);
  assert.ok(!lower.targets.includes("channels/stable.json"));

  // Another channel has its own pointer.
  const beta = await publishRelease({
    repoDir: f.repo,
    app: "demo",
    version: "1.2.0-beta.1",
    channel: "beta",
    buildDir: build2,
    keys: f.keys,
  });
  assert.equal(beta.channelMoved, true);

  const server = await serveStatic(f.repo);
  t.after(() => server.close());
  const updater = await tufClient(f, server.url, "b");
  await updater.refresh();
  assert.equal(await listedVersion(updater, "channels/stable.json"), "1.1.0");
  assert.equal(await listedVersion(updater, "channels/beta.json"), "1.2.0-beta.1");
  for (const v of ["1.0.0", "1.1.0", "1.0.5", "1.2.0-beta.1"]) {
    assert.ok(await updater.getTargetInfo(`releases/${v}/any/manifest.json`), `release ${v} stays listed`);
  }

  // --force moves the pointer down (a channel rollback) and replaces an existing version.
  const forced = await publishRelease({
    repoDir: f.repo,
    app: "demo",
    version: "1.0.5",
    buildDir: build2,
    force: true,
    keys: f.keys,
  });
  assert.equal(forced.replaced, true);
  assert.equal(forced.channelMoved, true);
  assert.match(forced.channelNote, /forced/);
  const again = await tufClient(f, server.url, "c");
  await again.refresh();
  assert.equal(await listedVersion(again, "channels/stable.json"), "1.0.5");
});

test("refusals: existing version, bad version or channel, embedded file in the build, missing app", async (t) => {
  const f = await fixture(t);
  await publishRelease({ repoDir: f.repo, app: "demo", version: "1.0.0", buildDir: f.build, keys: f.keys });
  const base = { repoDir: f.repo, app: "demo", buildDir: f.build, keys: f.keys };
  await assert.rejects(publishRelease({ ...base, version: "1.0.0" }), (err) => isUpdraftError(err, "VERSION_EXISTS"));
  await assert.rejects(publishRelease({ ...base, version: "1.0" }), (err) => isUpdraftError(err, "VERSION_EXISTS"));
  await assert.rejects(publishRelease({ ...base, version: "v1..2" }), (err) => isUpdraftError(err, "VERSION_INVALID"));
  await assert.rejects(publishRelease({ ...base, version: "1.0.1", channel: "Beta!" }), (err) =>
    isUpdraftError(err, "USAGE"),
  );
  await assert.rejects(publishRelease({ ...base, version: "1.0.1", app: "other" }), (err) =>
    isUpdraftError(err, "REPO_NOT_FOUND"),
  );
  await assert.rejects(publishRelease({ ...base, version: "1.0.1", buildDir: join(f.root, "nope") }), (err) =>
    isUpdraftError(err, "BUILD_INVALID"),
  );
  for (const name of ["updraft.json", "updraft-root.json"]) {
    const build = await makeBuild(join(f.root, `clash-${name}`));
    await writeFile(join(build, name), "{}");
    await assert.rejects(publishRelease({ ...base, version: "1.0.1", buildDir: build }), (err) => {
      assert.ok(isUpdraftError(err, "BUILD_INVALID"));
      assert.match(err.message, new RegExp(name.replace(".", "\\.")));
      return true;
    });
  }
  // Nothing of the refused publishes was committed.
  const ts = JSON.parse(await readFile(join(f.repo, "demo", "metadata", "timestamp.json"), "utf8"));
  assert.equal(ts.signed.version, 2);
});

test("keys that the root does not trust are refused (KEY_INVALID); missing keys are KEYS_MISSING", async (t) => {
  const f = await fixture(t);
  const otherKeys = await makeKeys(join(f.root, "other-keys"));
  await assert.rejects(
    publishRelease({ repoDir: f.repo, app: "demo", version: "1.0.0", buildDir: f.build, keys: otherKeys }),
    (err) => isUpdraftError(err, "KEY_INVALID"),
  );
  const { targets, timestamp } = f.keys;
  await assert.rejects(
    publishRelease({
      repoDir: f.repo,
      app: "demo",
      version: "1.0.0",
      buildDir: f.build,
      keys: { targets: targets!, timestamp: timestamp! },
    }),
    (err) => isUpdraftError(err, "KEYS_MISSING"),
  );
  const meta = await readdir(join(f.repo, "demo", "metadata"));
  assert.ok(!meta.includes("2.targets.json"), "nothing written before the missing key was noticed");
});

test("the publish lock keeps publishers apart; a stale lock is taken over", async (t) => {
  const f = await fixture(t);
  const lock = join(f.repo, "demo", ".publish.lock");
  const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  t.after(() => live.kill("SIGKILL"));
  await writeFile(lock, `${live.pid}\n`); // another live process, in the older versions' format
  await assert.rejects(
    publishRelease({ repoDir: f.repo, app: "demo", version: "1.0.0", buildDir: f.build, keys: f.keys }),
    (err) => {
      assert.ok(isUpdraftError(err, "LOCKED"));
      assert.match(err.message, /\.publish\.lock/);
      return true;
    },
  );
  await writeFile(lock, "2147483646\n"); // no such process
  await publishRelease({ repoDir: f.repo, app: "demo", version: "1.0.0", buildDir: f.build, keys: f.keys });
  await assert.rejects(readFile(lock), { code: "ENOENT" });
  // Two concurrent publishes in one process: one wins, the other is LOCKED.
  const results = await Promise.allSettled([
    publishRelease({ repoDir: f.repo, app: "demo", version: "2.0.0", buildDir: f.build, keys: f.keys }),
    publishRelease({ repoDir: f.repo, app: "demo", version: "2.0.1", buildDir: f.build, keys: f.keys }),
  ]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  const rejected = results.find((r) => r.status === "rejected");
  assert.ok(rejected && isUpdraftError(rejected.reason, "LOCKED"));
});

test("refreshTimestamp bumps the timestamp, and re-signs roles that expire soon", async (t) => {
  const f = await fixture(t);
  await publishRelease({ repoDir: f.repo, app: "demo", version: "1.0.0", buildDir: f.build, keys: f.keys });
  const onlyTimestamp = await refreshTimestamp({
    repoDir: f.repo,
    app: "demo",
    keys: { timestamp: f.keys.timestamp! },
  });
  assert.deepEqual(onlyTimestamp.resigned, ["timestamp"]);
  assert.equal(onlyTimestamp.timestampVersion, 3);
  assert.equal(onlyTimestamp.snapshotVersion, 2);
  const later = new Date(Date.now() + 320 * 86_400_000); // targets and snapshot expire within 60 days
  await assert.rejects(
    refreshTimestamp({ repoDir: f.repo, app: "demo", keys: { timestamp: f.keys.timestamp! }, now: later }),
    (err) => isUpdraftError(err, "KEYS_MISSING"),
  );
  const renewed = await refreshTimestamp({ repoDir: f.repo, app: "demo", keys: f.keys, now: later });
  assert.deepEqual(renewed.resigned, ["targets", "snapshot", "timestamp"]);
  assert.deepEqual([renewed.targetsVersion, renewed.snapshotVersion, renewed.timestampVersion], [3, 3, 4]);
  const server = await serveStatic(f.repo);
  t.after(() => server.close());
  const updater = await tufClient(f, server.url, "r");
  await updater.refresh();
  assert.equal(await listedVersion(updater, "channels/stable.json"), "1.0.0");
});
