/**
 * The TUF attack suite: a repository built by the real publisher, attacked by hand with
 * @tufjs/models (forged, replayed, expired, inconsistent or endless metadata; altered targets; root
 * rotations), served from 127.0.0.1. Each attack is refused with its own error code and the
 * installed version stays exactly as it was.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFile, readdir, readFile, readlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { installLayout } from "../src/client/install/layout.js";
import { Updater, type UpdaterOptions } from "../src/client/updater.js";
import { type ErrorCode, ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { publishRelease } from "../src/publish/publish.js";
import { type FaultServer, startFaultServer } from "./helpers/fault-server.js";
import {
  createTestRepo,
  manifestDigest,
  publish,
  signedManifest,
  type TestRepo,
  targetFilePath,
  treeDigest,
  writeBuild,
} from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import {
  daysFromNow,
  forgeChain,
  type MetaEntry,
  metadataDir,
  metaOf,
  newKey,
  readDoc,
  rotateRoot,
  setRoleKeys,
  signDoc,
  writeDoc,
} from "./helpers/tuf-forge.js";
import { waitUntil } from "./helpers/wait.js";

const files = (version: string) => ({
  "bin/app": `#!/bin/sh\necho ${version}\n`,
  "data.txt": `payload ${version}\n`.repeat(200),
});

interface Setup {
  repo: TestRepo;
  fault: FaultServer;
  appDir: string;
  work: string;
  /** The tree 1.0.0 must keep (from its signed manifest, read before any attack). */
  installed: Map<string, string>;
}

/** 1.0.0 installed from a server on 127.0.0.1; 1.1.0 published (an update is waiting). */
async function setup(t: TestContext, { publishUpdate = true } = {}): Promise<Setup> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", files("1.0.0"));
  const fault = await startFaultServer(t, repo.repoDir);
  const appDir = join(work, "install");
  await installFromRepository({ repoUrl: fault.url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  const installed = manifestDigest(await signedManifest(repo, "1.0.0"));
  if (publishUpdate) await publish(repo, work, "1.1.0", files("1.1.0"));
  return { repo, fault, appDir, work, installed };
}

function updater(s: Setup, extra: Partial<UpdaterOptions> = {}): Updater {
  return new Updater({ installDir: s.appDir, retry: { attempts: 1 }, backoffMs: 0, ...extra });
}

async function assertUntouched(s: Setup): Promise<void> {
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.0.0");
  assert.deepEqual(await treeDigest(join(s.appDir, "current/")), s.installed);
  assert.deepEqual((await readdir(s.appDir)).sort(), [".updraft", "app-1.0.0", "current"]);
}

/** Runs check + install; asserts the code (and role), and that nothing changed. */
async function assertRefused(s: Setup, code: ErrorCode, role?: string): Promise<UpdraftError> {
  let caught: UpdraftError | undefined;
  await assert.rejects(
    async () => {
      const u = updater(s);
      await u.update();
    },
    (err: unknown) => {
      assert.ok(err instanceof UpdraftError, `expected an UpdraftError, got ${err}`);
      assert.equal(err.code, code, `${err.code}: ${err.message}`);
      if (role) assert.equal(err.details?.role, role, err.message);
      caught = err;
      return true;
    },
  );
  await assertUntouched(s);
  return caught!;
}

async function archivePath(s: Setup, version = "1.1.0"): Promise<string> {
  return targetFilePath(s.repo, `releases/${version}/any/full.tar.zst`);
}

async function trustedVersions(s: Setup): Promise<{ timestamp: number; snapshot: number; targets: number }> {
  const dir = join(s.appDir, ".updraft", "tuf");
  const read = async (n: string) => JSON.parse(await readFile(join(dir, n), "utf8")).signed.version as number;
  return {
    timestamp: await read("timestamp.json"),
    snapshot: await read("snapshot.json"),
    targets: await read("targets.json"),
  };
}

// ---------------------------------------------------------------------------------------------
// Arbitrary software

test("arbitrary archive bytes of the signed length: TARGET_MISMATCH", async (t) => {
  const s = await setup(t);
  const path = await archivePath(s);
  await writeFile(path, randomBytes((await readFile(path)).length));
  await assertRefused(s, ErrorCodes.TARGET_MISMATCH);
});

test("arbitrary archive bytes of another length (shorter, longer): TARGET_MISMATCH", async (t) => {
  const s = await setup(t);
  const path = await archivePath(s);
  const size = (await readFile(path)).length;
  await writeFile(path, randomBytes(Math.floor(size / 2)));
  await assertRefused(s, ErrorCodes.TARGET_MISMATCH);
  await writeFile(path, randomBytes(size * 3));
  await assertRefused(s, ErrorCodes.TARGET_MISMATCH);
});

test("arbitrary bytes in place of the signed release manifest: MANIFEST_MISMATCH", async (t) => {
  const s = await setup(t);
  const path = await targetFilePath(s.repo, "releases/1.1.0/any/manifest.json");
  await writeFile(path, randomBytes((await readFile(path)).length));
  await assertRefused(s, ErrorCodes.MANIFEST_MISMATCH);
});

// ---------------------------------------------------------------------------------------------
// Signatures and thresholds

test("timestamp signed by an unknown key: METADATA_SIGNATURE", async (t) => {
  const s = await setup(t);
  await forgeChain(s.repo, { timestamp: { signers: [newKey("timestamp")] } });
  await assertRefused(s, ErrorCodes.METADATA_SIGNATURE, "timestamp");
});

test("targets signed by an unknown key (snapshot and timestamp genuine): METADATA_SIGNATURE", async (t) => {
  const s = await setup(t);
  await forgeChain(s.repo, { targets: { signers: [newKey("targets")] } });
  await assertRefused(s, ErrorCodes.METADATA_SIGNATURE, "targets");
});

/** Rotates the root to require 2 timestamp keys (the current one and a new one). */
async function requireTwoTimestampKeys(s: Setup) {
  const second = newKey("timestamp");
  await rotateRoot(s.repo, {
    signers: [s.repo.keys.root!],
    mutate: (signed) => setRoleKeys(signed, "timestamp", [s.repo.keys.timestamp!, second], 2),
  });
  return second;
}

test("one signature short of a threshold of 2: METADATA_SIGNATURE; both signatures: accepted", async (t) => {
  const s = await setup(t);
  const second = await requireTwoTimestampKeys(s);
  await forgeChain(s.repo, { timestamp: { signers: [s.repo.keys.timestamp!] } });
  const e = await assertRefused(s, ErrorCodes.METADATA_SIGNATURE, "timestamp");
  assert.match(e.message, /1\/2/);
  await forgeChain(s.repo, { timestamp: { signers: [s.repo.keys.timestamp!, second] } });
  await updater(s).update();
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.1.0");
});

test("the same key's signature twice to fake a threshold of 2: METADATA_SIGNATURE", async (t) => {
  const s = await setup(t);
  await requireTwoTimestampKeys(s);
  await forgeChain(s.repo, { timestamp: { signers: [s.repo.keys.timestamp!] } });
  const doc = await readDoc(s.repo, "timestamp.json");
  doc.signatures = [doc.signatures[0]!, doc.signatures[0]!];
  await writeDoc(s.repo, "timestamp.json", doc);
  await assertRefused(s, ErrorCodes.METADATA_SIGNATURE);
});

// ---------------------------------------------------------------------------------------------
// Rollback and replay

test("timestamp version rolled back below the trusted one: METADATA_ROLLBACK", async (t) => {
  const s = await setup(t);
  const trusted = await trustedVersions(s);
  await forgeChain(s.repo, { timestamp: { version: trusted.timestamp - 1 } });
  await assertRefused(s, ErrorCodes.METADATA_ROLLBACK, "timestamp");
});

test("snapshot version rolled back (a new timestamp naming an older snapshot): METADATA_ROLLBACK", async (t) => {
  const s = await setup(t);
  const trusted = await trustedVersions(s);
  const old = await readFile(join(metadataDir(s.repo), `${trusted.snapshot - 1}.snapshot.json`));
  await forgeChain(s.repo, {
    timestamp: {
      mutate: (signed) => {
        (signed.meta as Record<string, MetaEntry>)["snapshot.json"] = metaOf(trusted.snapshot - 1, old);
      },
    },
  });
  await assertRefused(s, ErrorCodes.METADATA_ROLLBACK, "snapshot");
});

test("targets version rolled back (a new snapshot naming an older targets): METADATA_ROLLBACK", async (t) => {
  const s = await setup(t);
  const trusted = await trustedVersions(s);
  const old = await readFile(join(metadataDir(s.repo), `${trusted.targets - 1}.targets.json`));
  await forgeChain(s.repo, {
    snapshot: {
      mutate: (signed) => {
        (signed.meta as Record<string, MetaEntry>)["targets.json"] = metaOf(trusted.targets - 1, old);
      },
    },
  });
  await assertRefused(s, ErrorCodes.METADATA_ROLLBACK, "targets");
});

test("root version skipped (2.root.json holds version 3): METADATA_MISMATCH", async (t) => {
  const s = await setup(t);
  const doc = await readDoc(s.repo, "1.root.json");
  doc.signed.version = 3;
  await writeDoc(s.repo, "2.root.json", signDoc("root", doc, [s.repo.keys.root!]));
  await assertRefused(s, ErrorCodes.METADATA_MISMATCH, "root");
});

test("root version repeated (2.root.json is version 1 again): METADATA_ROLLBACK", async (t) => {
  const s = await setup(t);
  await copyFile(join(metadataDir(s.repo), "1.root.json"), join(metadataDir(s.repo), "2.root.json"));
  await assertRefused(s, ErrorCodes.METADATA_ROLLBACK, "root");
});

// ---------------------------------------------------------------------------------------------
// Freeze: expired metadata (the clock is injected by signing with past expiry dates)

test("expired timestamp: METADATA_EXPIRED (timestamp)", async (t) => {
  const s = await setup(t);
  await forgeChain(s.repo, { timestamp: { expires: daysFromNow(-1) } });
  await assertRefused(s, ErrorCodes.METADATA_EXPIRED, "timestamp");
});

test("expired snapshot: METADATA_EXPIRED (snapshot)", async (t) => {
  const s = await setup(t);
  await forgeChain(s.repo, { snapshot: { expires: daysFromNow(-1) } });
  await assertRefused(s, ErrorCodes.METADATA_EXPIRED, "snapshot");
});

test("expired targets: METADATA_EXPIRED (targets)", async (t) => {
  const s = await setup(t);
  await forgeChain(s.repo, { targets: { expires: daysFromNow(-1) } });
  await assertRefused(s, ErrorCodes.METADATA_EXPIRED, "targets");
});

test("expired root: METADATA_EXPIRED (root)", async (t) => {
  const s = await setup(t);
  await rotateRoot(s.repo, { signers: [s.repo.keys.root!], expires: daysFromNow(-1) });
  await assertRefused(s, ErrorCodes.METADATA_EXPIRED, "root");
});

test("a whole publish made with a clock 400 days behind: METADATA_EXPIRED", async (t) => {
  const s = await setup(t, { publishUpdate: false });
  const buildDir = await writeBuild(join(s.work, "build-old-clock"), files("1.1.0"));
  await publishRelease({
    repoDir: s.repo.repoDir,
    app: s.repo.app,
    version: "1.1.0",
    buildDir,
    keys: s.repo.keys,
    now: new Date(Date.now() - 400 * 86_400_000),
  });
  await assertRefused(s, ErrorCodes.METADATA_EXPIRED);
});

// ---------------------------------------------------------------------------------------------
// Inconsistent metadata

test("targets file whose version differs from what the snapshot says: METADATA_MISMATCH", async (t) => {
  const s = await setup(t);
  const trusted = await trustedVersions(s);
  const forged = await forgeChain(s.repo, {
    targets: { version: trusted.targets + 5 },
    snapshot: {
      mutate: (signed) => {
        const meta = (signed.meta as Record<string, MetaEntry>)["targets.json"]!;
        meta.version = trusted.targets + 6;
      },
    },
  });
  // The snapshot names version N+6; serve the (signed, hash-matching) N+5 file under that name.
  await copyFile(
    join(metadataDir(s.repo), `${forged.targets}.targets.json`),
    join(metadataDir(s.repo), `${forged.targets + 1}.targets.json`),
  );
  await assertRefused(s, ErrorCodes.METADATA_MISMATCH, "targets");
});

test("snapshot bytes not matching the hash in the timestamp: METADATA_MISMATCH", async (t) => {
  const s = await setup(t);
  const ts = await readDoc(s.repo, "timestamp.json");
  const version = (ts.signed.meta as Record<string, MetaEntry>)["snapshot.json"]!.version;
  const path = join(metadataDir(s.repo), `${version}.snapshot.json`);
  const text = await readFile(path, "utf8");
  // Same length, different bytes: one hex digit of the signature changes.
  const i = text.indexOf('"sig": "') + 8;
  await writeFile(path, text.slice(0, i) + (text[i] === "a" ? "b" : "a") + text.slice(i + 1));
  await assertRefused(s, ErrorCodes.METADATA_MISMATCH);
});

// ---------------------------------------------------------------------------------------------
// Endless data

test("endless timestamp, root and snapshot: METADATA_TOO_LARGE; endless archive: TARGET_MISMATCH", async (t) => {
  const s = await setup(t);
  for (const match of [/timestamp\.json$/, /2\.root\.json$/, /\d+\.snapshot\.json$/]) {
    s.fault.clearFaults();
    s.fault.addFault({ match, fault: { kind: "endless" } });
    await assertRefused(s, ErrorCodes.METADATA_TOO_LARGE);
  }
  s.fault.clearFaults();
  s.fault.addFault({ match: /stable\.json$/, fault: { kind: "endless" } });
  await assertRefused(s, ErrorCodes.MANIFEST_MISMATCH);
  s.fault.clearFaults();
  s.fault.addFault({ match: /\.tar\.zst$/, fault: { kind: "endless" } });
  await assertRefused(s, ErrorCodes.TARGET_MISMATCH);
  const endless = s.fault.log.filter((x) => x.fault === "endless");
  await waitUntil(() => endless.every((r) => r.closed), "the endless responses to end");
  for (const r of endless) {
    assert.ok(r.bytesSent < 32 * 1024 * 1024, `${r.path}: the client stopped reading (${r.bytesSent} bytes sent)`);
  }
});

// ---------------------------------------------------------------------------------------------
// Root rotation

test("root rotation signed by the old and the new root key: accepted, and the new root is kept", async (t) => {
  const s = await setup(t);
  const newRoot = newKey("root");
  await rotateRoot(s.repo, {
    signers: [s.repo.keys.root!, newRoot],
    mutate: (signed) => setRoleKeys(signed, "root", [newRoot]),
  });
  await updater(s).update();
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.1.0");
  const layout = installLayout(s.appDir);
  for (const f of [join(layout.tufDir, "root.json"), layout.trustedRootFile]) {
    assert.equal(JSON.parse(await readFile(f, "utf8")).signed.version, 2, f);
  }
});

test("root rotation signed by the new key only: METADATA_SIGNATURE (root)", async (t) => {
  const s = await setup(t);
  const newRoot = newKey("root");
  await rotateRoot(s.repo, { signers: [newRoot], mutate: (signed) => setRoleKeys(signed, "root", [newRoot]) });
  await assertRefused(s, ErrorCodes.METADATA_SIGNATURE, "root");
});

test("root rotation signed by the old key only: METADATA_SIGNATURE (root)", async (t) => {
  const s = await setup(t);
  const newRoot = newKey("root");
  await rotateRoot(s.repo, {
    signers: [s.repo.keys.root!],
    mutate: (signed) => setRoleKeys(signed, "root", [newRoot]),
  });
  await assertRefused(s, ErrorCodes.METADATA_SIGNATURE, "root");
});

// ---------------------------------------------------------------------------------------------
// Downgrade and local cache damage

test("a signed release lower than the installed one: DOWNGRADE_REFUSED, unless allowDowngrade", async (t) => {
  const s = await setup(t, { publishUpdate: false });
  const buildDir = await writeBuild(join(s.work, "build-0.9.0"), files("0.9.0"));
  await publishRelease({
    repoDir: s.repo.repoDir,
    app: s.repo.app,
    version: "0.9.0",
    buildDir,
    keys: s.repo.keys,
    force: true,
  });
  const check = await updater(s).check();
  assert.equal(check.status, "current");
  assert.equal(check.latestVersion, "0.9.0");
  await assertRefused(s, ErrorCodes.DOWNGRADE_REFUSED);
  const allowed = updater(s, { allowDowngrade: true });
  assert.equal((await allowed.check()).status, "available");
  await allowed.update();
  assert.equal(await readlink(join(s.appDir, "current")), "app-0.9.0");
});

test("a truncated local metadata cache is recovered safely and the update installs", async (t) => {
  const s = await setup(t);
  const tuf = join(s.appDir, ".updraft", "tuf");
  for (const f of ["root.json", "timestamp.json", "snapshot.json", "targets.json"]) {
    const size = (await readFile(join(tuf, f))).length;
    await truncate(join(tuf, f), Math.floor(size / 2));
  }
  await updater(s).update();
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.1.0");
  assert.deepEqual(await treeDigest(join(s.appDir, "current/")), manifestDigest(await signedManifest(s.repo, "1.1.0")));
  JSON.parse(await readFile(join(tuf, "root.json"), "utf8")); // restored whole
});
