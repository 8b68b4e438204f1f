/**
 * `updraft prune --keep N` on a real repository served over HTTP: the releases beyond the newest
 * N (by version) leave the signed metadata and the disk, a release a channel names stays, and
 * installs of removed versions still update: to the channel's release from its full archive when
 * no delta starts from their version, from a delta when one does. Never a broken update.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { exists } from "../src/core/fs.js";
import { loadKeys } from "../src/publish/keys.js";
import { pruneReleases } from "../src/publish/prune.js";
import { parseJson, runCli } from "./helpers/cli.js";
import {
  createTestRepo,
  manifestDigest,
  publish,
  readSignedTargets,
  signedManifest,
  treeDigest,
} from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { availableUpdate } from "./helpers/updates.js";

function files(version: string): Record<string, string> {
  return {
    "app.sh": `#!/bin/sh\necho ${version}\n`,
    "lib/data.txt": `${"stable line\n".repeat(200)}${version}\n`,
  };
}

test("prune keeps the newest N, removes the rest from metadata and disk; installs of removed versions still update", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = await startServer(t, repo.repoDir);
  const install = async (name: string) => {
    const dir = join(work, name);
    await installFromRepository({ repoUrl: server.url, app: repo.app, installDir: dir, rootSha256: repo.rootSha256 });
    return dir;
  };
  await publish(repo, work, "1.0.0", files("1.0.0"), server.url);
  await publish(repo, work, "1.0.1", files("1.0.1"), undefined, 1);
  const atOld = await install("old"); // 1.0.1: removed below, no delta starts from it
  for (const v of ["1.0.2", "1.0.3"]) await publish(repo, work, v, files(v), undefined, 1);
  const atBase = await install("base"); // 1.0.3: removed below, but 1.0.5's delta starts from it
  await publish(repo, work, "1.0.4", files("1.0.4"), undefined, 1);
  await publish(repo, work, "1.0.5", files("1.0.5"), undefined, 2);

  const dry = await runCli(["prune", "--repo", repo.repoDir, "--app", repo.app, "--keep", "1", "--dry-run", "--json"]);
  assert.equal(dry.code, 0, dry.stderr + dry.stdout);
  // The channel document names 1.0.5 and the release a yank of it falls back to (1.0.4): both stay.
  assert.deepEqual(parseJson(dry).removed, ["1.0.3", "1.0.2", "1.0.1", "1.0.0"]);
  assert.ok(await exists(join(repo.repoDir, repo.app, "targets", "releases", "1.0.0")), "a dry run changes nothing");

  const keys = await loadKeys({ dir: repo.keysDir, roles: ["targets", "snapshot", "timestamp"], env: {} });
  const result = await pruneReleases({ repoDir: repo.repoDir, app: repo.app, keep: 1, keys });
  assert.deepEqual(result.kept, ["1.0.5", "1.0.4"]);
  assert.deepEqual(result.removed, ["1.0.3", "1.0.2", "1.0.1", "1.0.0"]);
  assert.ok(result.files >= 10 && result.bytes > 0);
  const signed = Object.keys((await readSignedTargets(repo)).signed.targets);
  assert.ok(
    signed.every((name) => !/^releases\/(?!1\.0\.[45]\/)/.test(name)),
    signed.join(),
  );
  for (const v of result.removed) {
    assert.equal(await exists(join(repo.repoDir, repo.app, "targets", "releases", v)), false, `${v}'s files are gone`);
  }

  for (const [dir, kind] of [
    [atOld, "full"],
    [atBase, "delta"],
  ] as const) {
    const updater = new Updater({ installDir: dir });
    const update = await availableUpdate(updater);
    assert.equal(update.version, "1.0.5");
    assert.equal(update.artifactKind === "full" ? "full" : "delta", kind);
    await updater.install(await updater.download(update));
    assert.deepEqual(await treeDigest(join(dir, "app-1.0.5")), manifestDigest(await signedManifest(repo, "1.0.5")));
  }

  // Publishing goes on after a prune, from the freed slots.
  await publish(repo, work, "1.0.6", files("1.0.6"), undefined, 1);
  assert.ok((await signedManifest(repo, "1.0.6")).artifacts.some((a) => a.from === "1.0.5"));
});

test("prune refuses --keep below 1 and keeps a release a channel names", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "2.0.0", files("2.0.0"));
  await publish(repo, work, "1.0.0", files("1.0.0"), undefined, 0, { channel: "lts" });
  const keys = await loadKeys({ dir: repo.keysDir, roles: ["targets", "snapshot", "timestamp"], env: {} });
  await assert.rejects(pruneReleases({ repoDir: repo.repoDir, app: repo.app, keep: 0, keys }), { code: "USAGE" });
  const result = await pruneReleases({ repoDir: repo.repoDir, app: repo.app, keep: 1, keys });
  assert.deepEqual(result.kept, ["2.0.0", "1.0.0"], "the lts channel's release stays");
  assert.deepEqual(result.removed, []);
});
