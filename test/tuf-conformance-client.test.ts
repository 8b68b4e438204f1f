/**
 * The tuf-conformance client entry, driven as the suite drives it (a real child process per
 * command) against a repository built by the publisher and served on 127.0.0.1: init, refresh,
 * download (repeatable --target-name, cached the second time), and exit 1 on refusals. After every
 * command the metadata folder is checked the way the suite checks it: every `*.json` in it is read
 * as a role, so it must hold exactly the role files the spec expects, nothing else.
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { installFromRepository } from "../src/client/first-install.js";
import { installLayout } from "../src/client/install/layout.js";
import { Updater } from "../src/client/updater.js";
import { type CliResult, runCli } from "./helpers/cli.js";
import { startFaultServer } from "./helpers/fault-server.js";
import { createTestRepo, publish, targetFilePath } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const CLIENT = fileURLToPath(new URL("../src/cli/tuf-conformance-client.js", import.meta.url));

/** The roles the folder holds, as the suite's `trusted_roles()` lists them: each `*.json`, parsed as metadata. */
async function trustedRoles(metadataDir: string): Promise<[string, number][]> {
  const roles: [string, number][] = [];
  for (const name of (await readdir(metadataDir)).sort()) {
    if (!name.endsWith(".json")) continue;
    const doc = JSON.parse(await readFile(join(metadataDir, name), "utf8")) as {
      signed: { _type: string; version: number };
    };
    const role = name.replace(/\.json$/, "");
    // A delegated role (the release's slot, see docs/format.md) is a targets document.
    assert.equal(doc.signed._type, ALL_ROLES.includes(role) ? role : "targets", `${name} holds its role`);
    roles.push([name.replace(/\.json$/, ""), doc.signed.version]);
  }
  return roles;
}

/** Asserts that the metadata folder holds exactly `roles` (sorted names) and no other file. */
async function assertOnlyRoles(metadataDir: string, roles: string[], when: string): Promise<void> {
  assert.deepEqual((await readdir(metadataDir)).sort(), roles.map((r) => `${r}.json`).sort(), `${when}: files`);
  assert.deepEqual(
    (await trustedRoles(metadataDir)).map(([role]) => role),
    [...roles].sort(),
    `${when}: trusted roles`,
  );
}

const ALL_ROLES = ["root", "snapshot", "targets", "timestamp"];
/** After looking up a release's targets: the top-level roles and the slot role of the only release. */
const WITH_RELEASE_ROLE = [...ALL_ROLES, "recent-0"];

/** The versions a client must trust after refreshing from repository metadata folder `dir`. */
async function servedVersions(dir: string): Promise<[string, number][]> {
  type Doc = { signed: { version: number; meta: Record<string, { version: number }> } };
  const read = async (name: string) => JSON.parse(await readFile(join(dir, name), "utf8")) as Doc;
  const timestamp = await read("timestamp.json");
  const snapshotVersion = timestamp.signed.meta["snapshot.json"]!.version;
  const snapshot = await read(`${snapshotVersion}.snapshot.json`);
  return [
    ["root", (await read("root.json")).signed.version],
    ["snapshot", snapshotVersion],
    ["targets", snapshot.signed.meta["targets.json"]!.version],
    ["timestamp", timestamp.signed.version],
  ];
}

function run(args: string[]): Promise<CliResult> {
  return runCli([CLIENT, ...args], { command: process.execPath });
}

test("tuf-conformance client protocol: init, refresh, download with caching, refusal exits 1", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "bin/app": "#!/bin/sh\necho 1\n" });
  const server = await startFaultServer(t, repo.repoDir);
  const metadataUrl = `${server.url}/${repo.app}/metadata`;
  const targetBaseUrl = `${server.url}/${repo.app}/targets`;
  const metadataDir = join(work, "client", "metadata");
  const targetDir = join(work, "client", "targets");
  await mkdir(metadataDir, { recursive: true });

  const init = await run([
    "--metadata-dir",
    metadataDir,
    "init",
    join(repo.repoDir, repo.app, "metadata", "1.root.json"),
  ]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal(server.log.length, 0, "init makes no request");
  await assertOnlyRoles(metadataDir, ["root"], "after init");

  const refresh = await run(["--metadata-dir", metadataDir, "--metadata-url", metadataUrl, "refresh"]);
  assert.equal(refresh.code, 0, refresh.stderr);
  await assertOnlyRoles(metadataDir, ALL_ROLES, "after refresh");
  assert.deepEqual(await trustedRoles(metadataDir), await servedVersions(join(repo.repoDir, repo.app, "metadata")));

  const names = ["channels/stable.json", "releases/1.0.0/any/manifest.json"];
  const download = () =>
    run([
      "--metadata-dir",
      metadataDir,
      "--metadata-url",
      metadataUrl,
      ...names.flatMap((n) => ["--target-name", n]),
      "--target-base-url",
      targetBaseUrl,
      "--target-dir",
      targetDir,
      "download",
    ]);
  const first = await download();
  assert.equal(first.code, 0, first.stderr);
  await assertOnlyRoles(metadataDir, WITH_RELEASE_ROLE, "after download");
  assert.deepEqual((await readdir(targetDir)).sort(), names.map((n) => encodeURIComponent(n)).sort(), "only artifacts");
  for (const name of names) {
    assert.deepEqual(
      await readFile(join(targetDir, encodeURIComponent(name))),
      await readFile(await targetFilePath(repo, name)),
      name,
    );
  }
  const targetRequests = () => server.log.filter((r) => r.path.includes("/targets/")).length;
  const before = targetRequests();
  const second = await download();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /cached/);
  assert.equal(targetRequests(), before, "cached artifacts are not downloaded again");

  // Refusals exit 1: an unknown target, and a target whose bytes were replaced.
  const unknown = await run([
    "--metadata-dir",
    metadataDir,
    "--metadata-url",
    metadataUrl,
    "--target-name",
    "nope.txt",
    "--target-base-url",
    targetBaseUrl,
    "--target-dir",
    targetDir,
    "download",
  ]);
  assert.equal(unknown.code, 1);
  await writeFile(await targetFilePath(repo, "releases/1.0.0/any/full.tar.zst"), "not the archive");
  const tampered = await run([
    "--metadata-dir",
    metadataDir,
    "--metadata-url",
    metadataUrl,
    "--target-name",
    "releases/1.0.0/any/full.tar.zst",
    "--target-base-url",
    targetBaseUrl,
    "--target-dir",
    targetDir,
    "download",
  ]);
  assert.equal(tampered.code, 1, tampered.stdout);
  assert.match(tampered.stderr, /TARGET_MISMATCH/);
  // An error page instead of the timestamp: refresh exits 1 and keeps the trusted files.
  const trustedTimestamp = await readFile(join(metadataDir, "timestamp.json"));
  server.addFault({ match: /timestamp\.json$/, fault: { kind: "html" } });
  const broken = await run(["--metadata-dir", metadataDir, "--metadata-url", metadataUrl, "refresh"]);
  assert.equal(broken.code, 1);
  assert.deepEqual(await readFile(join(metadataDir, "timestamp.json")), trustedTimestamp);
  await assertOnlyRoles(metadataDir, WITH_RELEASE_ROLE, "after a refused refresh");
  const usage = await run(["refresh"]);
  assert.equal(usage.code, 1);
});

test("an install's metadata folder holds only role files; a safe root copy left inside by an older version moves beside it", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "bin/app": "#!/bin/sh\necho 1\n" });
  const server = await startFaultServer(t, repo.repoDir);
  const installDir = join(work, "install");
  await installFromRepository({ repoUrl: server.url, app: repo.app, installDir, rootSha256: repo.rootSha256 });
  const layout = installLayout(installDir);
  await assertOnlyRoles(layout.tufDir, WITH_RELEASE_ROLE, "after install");
  const root = await readFile(join(layout.tufDir, "root.json"));
  assert.deepEqual(await readFile(layout.trustedRootFile), root, "the safe copy is beside the folder");

  // An install made by an earlier version: the safe copy inside the metadata folder.
  await rename(layout.trustedRootFile, join(layout.tufDir, "trusted-root.json"));
  await writeFile(join(layout.tufDir, "root.json"), root.subarray(0, 10)); // and a damaged root.json
  const check = await new Updater({ installDir }).check();
  assert.equal(check.status, "current");
  await assertOnlyRoles(layout.tufDir, WITH_RELEASE_ROLE, "after the migrating check");
  assert.deepEqual(await readFile(layout.trustedRootFile), root);
  assert.deepEqual(await readFile(join(layout.tufDir, "root.json")), root, "root.json restored from the safe copy");
});
