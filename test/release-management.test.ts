/**
 * Release management end to end, over real HTTP with the real publisher, CLI and client: builds
 * per platform, staged rollouts (2,000 simulated installs through the client's decision, plus real
 * installs), halt, manual checks, critical and minimum versions, yanks, promotion and channel
 * switching.
 */
import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { TargetFile } from "@tufjs/models";
import { installFromRepository } from "../src/client/first-install.js";
import { INSTALL_ID_FILE, installId } from "../src/client/install/install-id.js";
import { installLayout } from "../src/client/install/layout.js";
import { HttpClient } from "../src/client/net/http.js";
import { chooseRelease, rolloutBucket } from "../src/client/trust/choose-release.js";
import { channelDocument } from "../src/client/trust/release.js";
import { TrustSession } from "../src/client/trust/session.js";
import { hostPlatform, Updater } from "../src/client/updater.js";
import { ExitCodes } from "../src/core/errors.js";
import { type ChannelDocument, parseChannelDocument } from "../src/formats/channel.js";
import {
  channelTarget,
  fullArchiveTarget,
  manifestTarget,
  parseChannelPointer,
  parseReleaseManifest,
  serializeDocument,
} from "../src/formats/native.js";
import { commitHistory, loadHistory, removeRelease } from "../src/publish/history.js";
import { publishRelease } from "../src/publish/publish.js";
import { promoteRelease, setRollout, yankRelease } from "../src/publish/releases.js";
import { appPaths, loadRepository, makeTargetFile, storeTargetBytes } from "../src/publish/tuf-repo.js";
import { createRepositoryServer } from "../src/server/static-server.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { createTestRepo, type TestRepo, targetFilePath, writeBuild } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const HOUR = 3_600_000;
/** A platform that is not this machine's. */
const OTHER_PLATFORM = hostPlatform() === "win32-x64" ? "linux-x64" : "win32-x64";

interface Served {
  work: string;
  repo: TestRepo;
  url: string;
}

async function servedRepo(t: TestContext): Promise<Served> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "hello");
  const server = createRepositoryServer({ root: repo.repoDir });
  const { url } = await server.listen();
  t.after(() => server.close());
  return { work, repo, url };
}

type PublishExtra = Omit<Parameters<typeof publishRelease>[0], "repoDir" | "app" | "version" | "buildDir" | "keys">;

async function publishVersion(
  s: Served,
  version: string,
  extra: PublishExtra = {},
  text = `v${version}`,
): Promise<void> {
  const buildDir = await writeBuild(join(s.work, `build-${version}-${extra.platform ?? "any"}-${Math.random()}`), {
    "app.txt": text,
  });
  await publishRelease({
    repoDir: s.repo.repoDir,
    app: s.repo.app,
    version,
    buildDir,
    keys: s.repo.keys,
    level: 3,
    deltas: 0,
    url: s.url,
    ...extra,
  });
}

async function install(
  s: Served,
  name: string,
  options: { channel?: string; id?: string; platform?: string } = {},
): Promise<string> {
  const dir = join(s.work, name);
  if (options.id !== undefined) {
    // The install id is the install's own state: a test may choose it to land in or out of a rollout.
    await writeBuild(join(dir, ".updraft"), { [INSTALL_ID_FILE]: `${options.id}\n` });
  }
  await installFromRepository({
    repoUrl: s.url,
    app: s.repo.app,
    installDir: dir,
    rootSha256: s.repo.rootSha256,
    ...(options.channel ? { channel: options.channel } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
  });
  return dir;
}

async function runningText(dir: string): Promise<string> {
  return readFile(join(dir, "current", "app.txt"), "utf8");
}

function cli(s: Served, args: string[]) {
  return runCli([...args, "--repo", s.repo.repoDir, "--app", s.repo.app, "--keys", s.repo.keysDir, "--json"], {
    limitMs: 60_000,
  });
}

async function checkJson(dir: string, ...extra: string[]) {
  const run = await runCli(["check", "--dir", dir, "--json", ...extra], { limitMs: 60_000 });
  return { code: run.code, doc: parseJson(run) as Record<string, unknown> };
}

/** An install id whose bucket for `version` is below (`inside`) or at least (`!inside`) `percent` × 100. */
function idFor(version: string, percent: number, inside: boolean): string {
  for (let i = 0; i < 100_000; i++) {
    const id = i.toString(16).padStart(32, "0");
    if (rolloutBucket(id, version) < percent * 100 === inside) return id;
  }
  throw new Error("no id found");
}

/** The channel document as a client reads it: through its trust session, over HTTP. */
async function signedChannel(s: Served, t: TestContext, channel = "stable"): Promise<ChannelDocument> {
  const dir = await tempDir(t);
  const tufDir = join(dir, "tuf");
  await TrustSession.seedRoot(tufDir, await readFile(join(s.repo.repoDir, s.repo.app, "metadata", "1.root.json")));
  const trust = new TrustSession({ repoUrl: s.url, app: s.repo.app }, tufDir, join(dir, "cache"), new HttpClient({}));
  await trust.refresh();
  return channelDocument(trust, { app: s.repo.app, channel });
}

test("one version built for two platforms: each publish adds its own build, this machine installs its own", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0");
  const dir = await install(s, "install");
  const mine = await writeBuild(join(s.work, "build-mine"), { "app.txt": `2.0.0 for ${hostPlatform()}` });
  const other = await writeBuild(join(s.work, "build-other"), { "app.txt": `2.0.0 for ${OTHER_PLATFORM}` });
  for (const [build, platform] of [
    [other, OTHER_PLATFORM],
    [mine, hostPlatform()],
  ] as const) {
    const run = await cli(s, ["publish", build, "--version", "2.0.0", "--platform", platform, "--level", "3"]);
    assert.equal(run.code, 0, run.stderr);
  }
  const doc = await signedChannel(s, t);
  assert.deepEqual(doc.releases[0]?.platforms, [hostPlatform(), OTHER_PLATFORM].sort());
  // Both builds stay listed: the second publish did not clobber the first.
  for (const platform of [hostPlatform(), OTHER_PLATFORM]) {
    await stat(await targetFilePath(s.repo, `releases/2.0.0/${platform}/full.tar.zst`));
  }
  // Clients that read only the first pointer's fields keep a release they can run (the last `any` build).
  const pointer = parseChannelPointer(JSON.stringify(doc));
  assert.equal(pointer.version, "1.0.0");

  const update = await runCli(["update", "--dir", dir, "--json"], { limitMs: 60_000 });
  assert.equal(update.code, 0, update.stderr);
  assert.equal(await runningText(dir), `2.0.0 for ${hostPlatform()}`);

  // Another platform's install (emulation, or a test) takes its own build.
  const emulatedDir = await install(s, "emulated", { platform: OTHER_PLATFORM });
  assert.equal(await runningText(emulatedDir), `2.0.0 for ${OTHER_PLATFORM}`);
  const emulated = new Updater({ installDir: emulatedDir, platform: OTHER_PLATFORM });
  const found = await emulated.check();
  assert.equal(found.status, "current");
  assert.equal(found.platform, OTHER_PLATFORM);
  // The platform chosen at install is kept: a later update without --platform takes that platform's build.
  for (const [build, platform] of [
    [await writeBuild(join(s.work, "build-mine-2.1"), { "app.txt": `2.1.0 for ${hostPlatform()}` }), hostPlatform()],
    [await writeBuild(join(s.work, "build-other-2.1"), { "app.txt": `2.1.0 for ${OTHER_PLATFORM}` }), OTHER_PLATFORM],
  ] as const) {
    const run = await cli(s, ["publish", build, "--version", "2.1.0", "--platform", platform, "--level", "3"]);
    assert.equal(run.code, 0, run.stderr);
  }
  const emulatedUpdate = await runCli(["update", "--dir", emulatedDir, "--json"], { limitMs: 60_000 });
  assert.equal(emulatedUpdate.code, 0, emulatedUpdate.stderr);
  assert.equal(await runningText(emulatedDir), `2.1.0 for ${OTHER_PLATFORM}`);
  const nativeUpdate = await runCli(["update", "--dir", dir, "--json"], { limitMs: 60_000 });
  assert.equal(nativeUpdate.code, 0, nativeUpdate.stderr);
  assert.equal(await runningText(dir), `2.1.0 for ${hostPlatform()}`);

  // A version with no build for this platform is not offered, and check says why.
  await publishVersion(s, "3.0.0", { platform: "darwin-arm64" === hostPlatform() ? "aix-ppc64" : "darwin-arm64" });
  const checked = await checkJson(dir);
  assert.equal(checked.code, ExitCodes.OK);
  assert.equal(checked.doc.status, "current");
  assert.equal(checked.doc.latestVersion, "2.1.0");
  const notOffered = checked.doc.notOffered as { reason: string; message: string };
  assert.equal(notOffered.reason, "no-build-for-platform");
  assert.match(notOffered.message, /3\.0\.0/);
  // A single platform's build never reaches clients that read only the pointer fields (they know no platforms).
  const after = parseChannelPointer(JSON.stringify(await signedChannel(s, t)));
  assert.deepEqual([after.version, after.manifest], ["1.0.0", manifestTarget("1.0.0", "any")]);
});

test("a platform with no build at all: check --json says so, a first install fails with its own code", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0", { platform: OTHER_PLATFORM });
  await assert.rejects(install(s, "install"), { code: "NO_BUILD_FOR_PLATFORM" });
  await publishVersion(s, "1.0.0", { platform: hostPlatform() });
  const dir = await install(s, "install2");
  const run = await runCli(["check", "--dir", dir, "--platform", "aix-ppc64", "--json"], { limitMs: 60_000 });
  const doc = parseJson(run) as { notOffered?: { reason: string; message: string }; status: string };
  assert.equal(doc.status, "current");
  assert.equal(doc.notOffered?.reason, "no-build-for-platform");
  assert.match(doc.notOffered?.message ?? "", /aix-ppc64/);
});

test("a 10 % rollout: 2,000 simulated installs fall in at 10 % ± 2 points and move at each scheduled step", async (t) => {
  const s = await servedRepo(t);
  const t0 = new Date(Date.now() - 100 * HOUR);
  await publishVersion(s, "1.0.0", { now: t0 });
  await publishVersion(s, "1.1.0", { now: t0, rollout: { schedule: "10%,50%@24h,100%@72h" } });
  const doc = await signedChannel(s, t);
  const ids = Array.from({ length: 2000 }, (_, i) => `${i.toString(16).padStart(8, "0")}${"5a".repeat(12)}`);
  const share = (at: Date, manual = false) => {
    const taken = ids.filter((installId) => {
      const choice = chooseRelease({
        document: doc,
        installed: "1.0.0",
        platform: hostPlatform(),
        installId,
        now: at,
        manual,
      });
      return choice.kind === "release" && choice.release.version === "1.1.0";
    });
    return { percent: (100 * taken.length) / ids.length, taken: new Set(taken) };
  };
  const step1 = share(new Date(t0.getTime() + HOUR));
  assert.ok(Math.abs(step1.percent - 10) <= 2, `10 % step: ${step1.percent} %`);
  const step2 = share(new Date(t0.getTime() + 25 * HOUR));
  assert.ok(Math.abs(step2.percent - 50) <= 3, `50 % step: ${step2.percent} %`);
  for (const id of step1.taken) assert.ok(step2.taken.has(id), "an install in at 10 % stays in at 50 %");
  assert.equal(share(new Date(t0.getTime() + 73 * HOUR)).percent, 100);
  assert.equal(share(new Date(t0.getTime() + HOUR), true).percent, 100, "a manual check bypasses the rollout");
  // Before the first step nobody takes it, not even a manual check (the rollout is at 0 %).
  assert.equal(share(new Date(t0.getTime() - HOUR), true).percent, 0);
  // Another release rolls out to other installs: the hash includes the version.
  const other = ids.filter((id) => rolloutBucket(id, "1.2.0") < 1000);
  assert.notDeepEqual(new Set(other), step1.taken);
});

test("real installs: in the rollout they update, outside they stay unless checked by hand; a halt stops new installs", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0");
  const inside = idFor("1.1.0", 20, true);
  const outside = idFor("1.1.0", 20, false);
  const a = await install(s, "a", { id: inside });
  const b = await install(s, "b", { id: outside });
  const c = await install(s, "c", { id: inside });
  assert.equal(await installId(installLayout(a)), inside, "the id written before the install is kept");
  await publishVersion(s, "1.1.0", { rollout: { percent: 20 } });

  const inA = await checkJson(a);
  assert.equal(inA.code, ExitCodes.UPDATE_AVAILABLE);
  assert.deepEqual(inA.doc.rollout, { version: "1.1.0", percent: 20, halted: false, included: true });
  const outB = await checkJson(b);
  assert.equal(outB.code, ExitCodes.OK);
  assert.equal(outB.doc.status, "current");
  assert.equal((outB.doc.rollout as { included: boolean }).included, false);
  const manualB = await checkJson(b, "--manual");
  assert.equal(manualB.code, ExitCodes.UPDATE_AVAILABLE, "a manual check bypasses the rollout");

  assert.equal((await runCli(["update", "--dir", a, "--json"], { limitMs: 60_000 })).code, 0);
  assert.equal(await runningText(a), "v1.1.0");

  const halt = await cli(s, ["rollout", "--channel", "stable", "--halt"]);
  assert.equal(halt.code, 0, halt.stderr);
  assert.equal((parseJson(halt) as { percentNow: number }).percentNow, 0);
  const halted = await checkJson(c);
  assert.equal(halted.doc.status, "current", "a halt stops every new install");
  assert.equal((await checkJson(b, "--manual")).doc.status, "current", "even a manual check");
  assert.equal((await checkJson(a)).doc.status, "current", "an install that took it keeps it");
  assert.equal(await runningText(a), "v1.1.0");

  const resume = await cli(s, ["rollout", "--channel", "stable", "--resume"]);
  assert.equal(resume.code, 0, resume.stderr);
  assert.equal((await checkJson(c)).code, ExitCodes.UPDATE_AVAILABLE);
  const full = await cli(s, ["rollout", "--channel", "stable", "--percent", "100"]);
  assert.equal(full.code, 0, full.stderr);
  assert.equal((await checkJson(b)).code, ExitCodes.UPDATE_AVAILABLE);
  const bad = await cli(s, ["rollout", "--channel", "stable", "--percent", "10", "--halt"]);
  assert.equal(bad.code, ExitCodes.USAGE);
});

test("critical and minimum version: reported, required even outside the rollout, exit 11, installed", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0");
  const dir = await install(s, "install");
  const build = await writeBuild(join(s.work, "build-1.2.0"), { "app.txt": "v1.2.0" });
  const run = await cli(s, [
    "publish",
    build,
    "--version",
    "1.2.0",
    "--critical",
    "--minimum-version",
    "1.1.0",
    "--rollout",
    "1%",
    "--level",
    "3",
  ]);
  assert.equal(run.code, 0, run.stderr);
  const checked = await checkJson(dir);
  assert.equal(checked.code, ExitCodes.UPDATE_REQUIRED);
  assert.equal(checked.doc.required, true);
  assert.equal(checked.doc.critical, true);
  const update = (checked.doc.update ?? {}) as { required?: boolean; critical?: boolean };
  assert.equal(update.required, true);
  assert.equal(update.critical, true);
  const updater = new Updater({ installDir: dir });
  await updater.update();
  assert.equal(await runningText(dir), "v1.2.0");
  // The minimum version may not be above the version itself.
  await assert.rejects(publishVersion(s, "1.3.0", { minimumVersion: "2.0.0" }), { code: "USAGE" });
});

test("a yanked release is left by the installs that took it and never offered again", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0");
  await publishVersion(s, "1.1.0");
  const dir = await install(s, "install");
  await publishVersion(s, "1.2.0");
  const fresh = await install(s, "fresh");
  await new Updater({ installDir: dir }).update();
  assert.equal(await runningText(dir), "v1.2.0");

  const yank = await cli(s, ["yank", "--version", "1.2.0", "--reason", "corrupts settings on upgrade"]);
  assert.equal(yank.code, 0, yank.stderr);
  assert.deepEqual((parseJson(yank) as { fallbacks: unknown }).fallbacks, [{ channel: "stable", version: "1.1.0" }]);
  const checked = await checkJson(dir);
  assert.equal(checked.code, ExitCodes.UPDATE_AVAILABLE);
  assert.equal(checked.doc.latestVersion, "1.1.0");
  assert.deepEqual(checked.doc.yanked, { version: "1.2.0", reason: "corrupts settings on upgrade" });
  // The signed yank list allows the way back without --allow-downgrade.
  const back = await runCli(["update", "--dir", dir, "--json"], { limitMs: 60_000 });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(await runningText(dir), "v1.1.0");
  assert.equal((await checkJson(dir)).doc.status, "current", "1.2.0 is never offered again");
  assert.equal((await checkJson(dir, "--manual")).doc.status, "current");
  assert.equal(await runningText(fresh), "v1.2.0", "fresh installed it before the yank");
  assert.equal((await checkJson(fresh)).doc.latestVersion, "1.1.0");
  assert.equal(await runningText(await install(s, "new")), "v1.1.0", "a new install gets the fallback");

  const missing = await cli(s, ["yank", "--version", "9.9.9"]);
  assert.equal(parseJson(missing).ok, false);
  assert.equal((parseJson(missing).error as { code: string }).code, "RELEASE_NOT_FOUND");
});

/** Every file under `dir`, with its size. */
async function filesUnder(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(path, (await stat(path)).size);
  }
  return out;
}

test("promote offers a release on another channel without uploading it again; installs switch channels", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0");
  await publishVersion(s, "2.0.0-beta.1", { channel: "beta" }, "beta build");
  const dir = await install(s, "install");

  const appDir = join(s.repo.repoDir, s.repo.app);
  const before = await filesUnder(appDir);
  const promote = await cli(s, ["promote", "--version", "2.0.0-beta.1", "--to", "stable"]);
  assert.equal(promote.code, 0, promote.stderr);
  const after = await filesUnder(appDir);
  const added = [...after.keys()].filter((p) => !before.has(p));
  const targetsAdded = added.filter((p) => p.startsWith(join(appDir, "targets")));
  assert.equal(targetsAdded.length, 1, `one new target, the channel document: ${targetsAdded.join(", ")}`);
  assert.match(targetsAdded[0]!, /channels\/[0-9a-f]{64}\.stable\.json$/);
  const bytes = added.reduce((sum, p) => sum + (after.get(p) ?? 0), 0);
  assert.ok(bytes < 16_384, `promote wrote ${bytes} bytes in ${added.length} files`);

  await new Updater({ installDir: dir }).update();
  assert.equal(await runningText(dir), "beta build");

  // Switching channel: beta is followed from then on; going back to an older release is an explicit downgrade.
  await publishVersion(s, "2.1.0-beta.1", { channel: "beta" }, "beta 2");
  await publishVersion(s, "2.0.1", {}, "stable fix");
  const toBeta = await runCli(["update", "--dir", dir, "--channel", "beta", "--json"], { limitMs: 60_000 });
  assert.equal(toBeta.code, 0, toBeta.stderr);
  assert.equal(await runningText(dir), "beta 2");
  assert.equal((await new Updater({ installDir: dir }).status()).channel, "beta");
  const back = await runCli(["update", "--dir", dir, "--channel", "stable", "--json"], { limitMs: 60_000 });
  assert.equal((parseJson(back) as { updated: boolean }).updated, false, "stable's 2.0.1 is lower");
  const downgrade = await runCli(["update", "--dir", dir, "--channel", "stable", "--allow-downgrade", "--json"], {
    limitMs: 60_000,
  });
  assert.equal(downgrade.code, 0, downgrade.stderr);
  assert.equal(await runningText(dir), "stable fix");

  const listed = await runCli(["releases", "--repo", s.repo.repoDir, "--app", s.repo.app, "--json"]);
  const releases = (parseJson(listed) as { releases: { version: string; channels: { channel: string }[] }[] }).releases;
  assert.deepEqual(
    releases.map((r) => [r.version, r.channels.map((c) => c.channel).sort()]),
    [
      ["2.1.0-beta.1", ["beta"]],
      ["2.0.1", ["stable"]],
      ["2.0.0-beta.1", ["beta", "stable"]],
      // Below the two releases every install may take, a channel no longer names a release.
      ["1.0.0", []],
    ],
  );
});

test("the install id: created once, kept, and replaced when the file is damaged", async (t) => {
  const dir = await tempDir(t);
  const layout = installLayout(dir);
  const id = await installId(layout);
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(await installId(layout), id);
  await writeFile(join(layout.stateDir, INSTALL_ID_FILE), "../../etc/passwd\n");
  const fresh = await installId(layout);
  assert.match(fresh, /^[0-9a-f]{32}$/);
  assert.notEqual(fresh, id);
});

test("channel documents: a first-layout pointer reads as one release for any; bad documents fail by field", () => {
  const v1 = {
    schema: 1,
    app: "demo",
    channel: "stable",
    version: "1.1.0",
    manifest: "releases/1.1.0/manifest.json",
    releasedAt: "2026-11-23T10:00:00Z",
  };
  const doc = parseChannelDocument(v1);
  assert.deepEqual(doc.releases, [
    { version: "1.1.0", platforms: ["any"], publishedAt: v1.releasedAt, legacyManifest: v1.manifest },
  ]);
  const v2 = {
    ...v1,
    channelSchema: 2,
    releases: [{ version: "1.1.0", platforms: ["linux-x64"], publishedAt: v1.releasedAt }],
  };
  assert.throws(() => parseChannelDocument({ ...v2, channelSchema: 3 }), /channelSchema/);
  assert.throws(
    () => parseChannelDocument({ ...v2, releases: [{ ...v2.releases[0], platforms: ["windows"] }] }),
    /releases\[0\]\.platforms\[0\]/,
  );
  assert.throws(
    () =>
      parseChannelDocument({
        ...v2,
        releases: [{ ...v2.releases[0], rollout: { steps: [{ percent: 120, at: v1.releasedAt }], halted: false } }],
      }),
    /percent/,
  );
  assert.throws(
    () => parseChannelDocument({ ...v2, releases: [v2.releases[0], { ...v2.releases[0], version: "1.2.0" }] }),
    /newest first/,
  );
});

test("setRollout refuses a channel without releases with its own code", async (t) => {
  const s = await servedRepo(t);
  await assert.rejects(
    setRollout({
      repoDir: s.repo.repoDir,
      app: s.repo.app,
      channel: "stable",
      keys: s.repo.keys,
      change: { percent: 5 },
    }),
    { code: "RELEASE_NOT_FOUND" },
  );
  await publishVersion(s, "1.0.0");
  await assert.rejects(
    setRollout({
      repoDir: s.repo.repoDir,
      app: s.repo.app,
      channel: "stable",
      keys: s.repo.keys,
      change: { schedule: "50%,10%@1h" },
    }),
    { code: "USAGE" },
  );
});

/**
 * Rewrites the app's only release (`any`) into the first layout's names and pointer, as a
 * publisher from before platforms left it: a repository for the migration tests.
 */
async function toFirstLayout(s: Served, version: string): Promise<void> {
  const paths = appPaths(s.repo.repoDir, s.repo.app);
  const state = await loadRepository(paths);
  const manifest = parseReleaseManifest(
    await readFile(await targetFilePath(s.repo, manifestTarget(version, "any")), "utf8"),
  );
  const archive = await readFile(await targetFilePath(s.repo, fullArchiveTarget(s.repo.app, version, "any")));
  const archiveName = fullArchiveTarget(s.repo.app, version);
  const { platform: _platform, ...rest } = manifest;
  const full = { ...manifest.artifacts[0]!, target: archiveName };
  const v1Manifest = Buffer.from(serializeDocument({ ...rest, artifacts: [full] }));
  // The first layout signed every release in the top-level role, with `custom` fields.
  const history = await loadHistory(state);
  removeRelease(history, version);
  const next: Record<string, TargetFile> = history.topLevel;
  const storedArchive = await storeTargetBytes(paths, archiveName, archive);
  next[archiveName] = makeTargetFile(archiveName, storedArchive.length, storedArchive.sha256, {
    kind: "full",
    version,
  });
  const manifestName = manifestTarget(version);
  const storedManifest = await storeTargetBytes(paths, manifestName, v1Manifest);
  next[manifestName] = makeTargetFile(manifestName, storedManifest.length, storedManifest.sha256, {
    kind: "manifest",
    version,
    channel: "stable",
  });
  const pointer = {
    schema: 1 as const,
    app: s.repo.app,
    channel: "stable",
    version,
    manifest: manifestName,
    releasedAt: manifest.releasedAt,
  };
  const storedPointer = await storeTargetBytes(paths, channelTarget("stable"), Buffer.from(serializeDocument(pointer)));
  next[channelTarget("stable")] = makeTargetFile(channelTarget("stable"), storedPointer.length, storedPointer.sha256, {
    kind: "channel",
    channel: "stable",
    version,
  });
  await commitHistory(state, history, { keys: s.repo.keys });
}

test("a first-layout repository: installs from it, publish moves it on, old clients keep updating", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0", {}, "one");
  await toFirstLayout(s, "1.0.0");
  const dir = await install(s, "install");
  assert.equal(await runningText(dir), "one");

  await publishVersion(s, "1.1.0", { deltas: 1 }, "one and a bit");
  const doc = await signedChannel(s, t);
  assert.deepEqual(
    doc.releases.map((r) => [r.version, r.legacyManifest]),
    [
      ["1.1.0", undefined],
      ["1.0.0", "releases/1.0.0/manifest.json"],
    ],
  );
  // A client that reads only the pointer fields finds 1.1.0's manifest, and its archive, where they are.
  const pointer = parseChannelPointer(JSON.stringify(doc));
  assert.equal(pointer.manifest, "releases/1.1.0/any/manifest.json");
  await stat(await targetFilePath(s.repo, pointer.manifest));

  const found = await new Updater({ installDir: dir }).check();
  assert.equal(found.status, "available");
  assert.equal(
    found.status === "available" && found.update.artifactKind !== "full",
    true,
    "a delta from the first-layout release",
  );
  await new Updater({ installDir: dir }).update();
  assert.equal(await runningText(dir), "one and a bit");
  // Back to the first-layout release through its legacy manifest name after a yank.
  await yankRelease({ repoDir: s.repo.repoDir, app: s.repo.app, version: "1.1.0", keys: s.repo.keys });
  await new Updater({ installDir: dir }).update();
  assert.equal(await runningText(dir), "one");
});

test("promote a release built for two platforms into a new channel: every build comes along", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "3.0.0-rc.1", { channel: "rc", platform: hostPlatform() }, "mine");
  await publishVersion(s, "3.0.0-rc.1", { channel: "rc", platform: OTHER_PLATFORM }, "other");
  const promoted = await promoteRelease({
    repoDir: s.repo.repoDir,
    app: s.repo.app,
    version: "3.0.0-rc.1",
    to: "canary",
    keys: s.repo.keys,
  });
  assert.deepEqual(promoted.platforms, [hostPlatform(), OTHER_PLATFORM].sort());
  assert.deepEqual(promoted.targets, ["channels/canary.json"]);
  const dir = await install(s, "install", { channel: "canary" });
  assert.equal(await runningText(dir), "mine");
  await assert.rejects(
    promoteRelease({ repoDir: s.repo.repoDir, app: s.repo.app, version: "9.0.0", to: "canary", keys: s.repo.keys }),
    { code: "RELEASE_NOT_FOUND" },
  );
});

test("two runners publish one version for two platforms at once: they take the lock in turn, both builds are offered", async (t) => {
  const s = await servedRepo(t);
  await publishVersion(s, "1.0.0");
  await Promise.all(
    [hostPlatform(), OTHER_PLATFORM].map((platform) =>
      publishVersion(s, "2.0.0", { platform, lockWaitMs: 120_000 }, `2.0.0 for ${platform}`),
    ),
  );
  const doc = await signedChannel(s, t);
  assert.deepEqual(doc.releases[0]?.platforms, [hostPlatform(), OTHER_PLATFORM].sort());
  const dir = await install(s, "install");
  assert.equal(await runningText(dir), `2.0.0 for ${hostPlatform()}`);
});
