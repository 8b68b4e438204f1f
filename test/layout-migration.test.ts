/**
 * Migration from layout v1 (every release in the one top-level targets role) to v2: a v1
 * repository keeps working for clients, and the first v2 publish moves the v1 releases into an
 * archive bin under their v1 paths, builds its delta from the last v1 release, and an install of
 * that release updates to the new one over HTTP.
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Metadata, MetadataKind, MetaFile, Snapshot, type TargetFile, Targets, Timestamp } from "@tufjs/models";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { expiresAfter, SPEC_VERSION } from "../src/publish/tuf-repo.js";
import { createTestRepo, manifestDigest, publish, signedManifest, type TestRepo, treeDigest } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { availableUpdate } from "./helpers/updates.js";

function files(version: string): Record<string, string> {
  return { "app.sh": `#!/bin/sh\necho ${version}\n`, "lib/data.txt": `${"same\n".repeat(300)}${version}\n` };
}

/** Rewrites the repository's metadata the way v1 signed it: every target in the top-level role, no delegations. */
async function rewriteAsV1(repo: TestRepo): Promise<void> {
  const dir = join(repo.repoDir, repo.app, "metadata");
  const read = async (name: string) => JSON.parse(await readFile(join(dir, name), "utf8"));
  const ts = Metadata.fromJSON(MetadataKind.Timestamp, await read("timestamp.json"));
  const snap = Metadata.fromJSON(MetadataKind.Snapshot, await read(`${ts.signed.snapshotMeta.version}.snapshot.json`));
  const all: Record<string, TargetFile> = {};
  for (const [file, entry] of Object.entries(snap.signed.meta)) {
    const role = Metadata.fromJSON(MetadataKind.Targets, await read(`${entry.version}.${file}`));
    Object.assign(all, role.signed.targets);
  }
  // A fresh v1 history: version numbers above every earlier one, as v1 clients never saw v2.
  const version = snap.signed.version + 100;
  const now = new Date();
  const targets = new Metadata(
    new Targets({ version, specVersion: SPEC_VERSION, expires: expiresAfter(now, 365), targets: all }),
  );
  targets.sign(repo.keys.targets!.signer, false);
  const targetsBytes = Buffer.from(JSON.stringify(targets.toJSON(), null, 2));
  await writeFile(join(dir, `${version}.targets.json`), targetsBytes);
  const snapshot = new Metadata(
    new Snapshot({
      version,
      specVersion: SPEC_VERSION,
      expires: expiresAfter(now, 365),
      meta: { "targets.json": new MetaFile({ version }) },
    }),
  );
  snapshot.sign(repo.keys.snapshot!.signer, false);
  const snapshotBytes = Buffer.from(JSON.stringify(snapshot.toJSON(), null, 2));
  await writeFile(join(dir, `${version}.snapshot.json`), snapshotBytes);
  const timestamp = new Metadata(
    new Timestamp({
      version,
      specVersion: SPEC_VERSION,
      expires: expiresAfter(now, 30),
      snapshotMeta: new MetaFile({ version, length: snapshotBytes.length }),
    }),
  );
  timestamp.sign(repo.keys.timestamp!.signer, false);
  await writeFile(join(dir, "timestamp.json"), JSON.stringify(timestamp.toJSON(), null, 2));
}

test("a v1 repository serves clients, and its first v2 publish archives the v1 releases under their paths", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = await startServer(t, repo.repoDir);
  await publish(repo, work, "1.0.0", files("1.0.0"), server.url);
  await publish(repo, work, "1.0.1", files("1.0.1"), undefined, 1);
  await rewriteAsV1(repo);
  const installDir = join(work, "install");
  await installFromRepository({ repoUrl: server.url, app: repo.app, installDir, rootSha256: repo.rootSha256 });

  await publish(repo, work, "1.1.0", files("1.1.0"), undefined, 1);
  const manifest = await signedManifest(repo, "1.1.0");
  assert.ok(
    manifest.artifacts.some((a) => a.from === "1.0.1"),
    "the delta starts from the last v1 release",
  );
  const metadata = await readdir(join(repo.repoDir, repo.app, "metadata"));
  const bin = metadata.find((f) => f.endsWith(".archive-1.json"));
  assert.ok(bin, "the v1 releases went to archive-1");
  const binTargets = JSON.parse(await readFile(join(repo.repoDir, repo.app, "metadata", bin), "utf8")).signed.targets;
  assert.ok(binTargets["releases/1.0.0/any/manifest.json"] && binTargets["releases/1.0.1/any/manifest.json"]);

  const updater = new Updater({ installDir });
  const update = await availableUpdate(updater);
  assert.equal(update.version, "1.1.0");
  assert.notEqual(update.artifactKind, "full");
  await updater.install(await updater.download(update));
  assert.deepEqual(await treeDigest(join(installDir, "app-1.1.0")), manifestDigest(manifest));
});
