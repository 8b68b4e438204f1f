/**
 * Key rotation and root thresholds, end to end through the real `updraft` executable over real
 * HTTP (a repository server on 127.0.0.1): for each role, publish → install → `keys rotate` →
 * publish → the installed client (whose trusted and shipped roots are the old one) walks to the
 * new root and updates. A 2-of-3 root signed by one key is refused by the publisher
 * (`ROOT_THRESHOLD`) and, when a broken publisher writes it anyway, by the client
 * (`METADATA_SIGNATURE`); the offline `root sign` / `root publish` steps then complete it. A
 * targets key retired by a rotation cannot sign a release the client accepts.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installLayout } from "../src/client/install/layout.js";
import { rootVersion } from "../src/client/trust/session.js";
import { ErrorCodes, ExitCodes } from "../src/core/errors.js";
import { parsePrivateKeyText, ROLES, type RoleName } from "../src/publish/keys.js";
import { type CliResult, parseJson, runCli } from "./helpers/cli.js";
import { type TestRepo, writeBuild } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { forgeChain, metadataDir } from "./helpers/tuf-forge.js";

/** Every CLI run here is bounded: a hang fails the test. */
const LIMIT = { limitMs: 120_000 };

function ok(result: CliResult): Record<string, unknown> {
  assert.equal(result.code, 0, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
  return parseJson(result);
}

function failure(result: CliResult, exit: number, code: string): Record<string, unknown> {
  const doc = parseJson(result);
  const error = doc.error as { code: string; details?: Record<string, unknown> };
  assert.equal(error.code, code, JSON.stringify(doc));
  assert.equal(result.code, exit, JSON.stringify(doc));
  return error as Record<string, unknown>;
}

interface Setup {
  work: string;
  repo: TestRepo;
  url: string;
  appDir: string;
}

/** Keys (`rootKeys` root keys), an app (root threshold `threshold`) with 1.0.0, served, and installed by the CLI. */
async function installed(t: TestContext, rootKeys = 1, threshold = 1): Promise<Setup> {
  const work = await tempDir(t);
  const keysDir = join(work, "keys");
  const repoDir = join(work, "repo");
  ok(await runCli(["keys", "generate", "--out", keysDir, "--root-keys", String(rootKeys), "--json"], LIMIT));
  const init = ok(
    await runCli(
      ["init", "--repo", repoDir, "--app", "hello", "--keys", keysDir, "--root-keys", String(rootKeys)].concat([
        "--root-threshold",
        String(threshold),
        "--json",
      ]),
      LIMIT,
    ),
  );
  const repo: TestRepo = { repoDir, keysDir, keys: {}, app: "hello", rootSha256: String(init.rootSha256) };
  await publishCli(repo, work, "1.0.0");
  const server = await startServer(t, repoDir);
  const appDir = join(work, "install");
  ok(
    await runCli(
      ["install", server.url, "--app", "hello", "--dir", appDir, "--root-sha256", repo.rootSha256, "--json"],
      LIMIT,
    ),
  );
  return { work, repo, url: server.url, appDir };
}

/** Runs `updraft ...args --repo R --app hello [--keys DIR] --json` against the setup's repository. */
function repoCli(s: Setup, args: readonly string[], withKeys = true): Promise<CliResult> {
  const keys = withKeys ? ["--keys", s.repo.keysDir] : [];
  return runCli([...args, "--repo", s.repo.repoDir, "--app", "hello", ...keys, "--json"], LIMIT);
}

/** `updraft keys rotate --role ROLE`, which must succeed. */
async function rotate(s: Setup, role: RoleName, extra: readonly string[] = []): Promise<Record<string, unknown>> {
  return ok(await repoCli(s, ["keys", "rotate", "--role", role, ...extra]));
}

async function publishCli(repo: TestRepo, work: string, version: string): Promise<void> {
  const build = await writeBuild(join(work, `build-${version}`), { "bin/app": `#!/bin/sh\necho ${version}\n` });
  ok(
    await runCli(
      [
        "publish",
        build,
        "--repo",
        repo.repoDir,
        "--app",
        repo.app,
        "--version",
        version,
        "--keys",
        repo.keysDir,
      ].concat(["--deltas", "0", "--level", "3", "--json"]),
      LIMIT,
    ),
  );
}

async function currentVersion(appDir: string): Promise<unknown> {
  return ok(await runCli(["status", "--dir", appDir, "--json"], LIMIT)).currentVersion;
}

/** The root version the install trusts now. */
async function trustedRootVersion(appDir: string): Promise<number | undefined> {
  return rootVersion(await readFile(join(installLayout(appDir).tufDir, "root.json")));
}

async function rootDoc(repo: TestRepo, name = "root.json") {
  return JSON.parse(await readFile(join(metadataDir(repo), name), "utf8")) as {
    signed: { version: number; expires: string; roles: Record<string, { keyids: string[]; threshold: number }> };
    signatures: { keyid: string }[];
  };
}

for (const role of ROLES) {
  test(`keys rotate --role ${role}: a new root lists the new key, and an installed client follows it to the next release`, async (t) => {
    const s = await installed(t);
    const before = await rootDoc(s.repo);
    const oldKeyId = before.signed.roles[role]!.keyids[0]!;
    const rotated = await rotate(s, role);
    assert.equal(rotated.pending, false);
    assert.equal(rotated.oldKeyId, oldKeyId);
    const after = await rootDoc(s.repo, "2.root.json");
    assert.deepEqual(after.signed.roles[role], { keyids: [rotated.newKeyId], threshold: 1 });
    const signers = after.signatures.map((sig) => sig.keyid).sort();
    const expected = role === "root" ? [oldKeyId, String(rotated.newKeyId)] : [before.signed.roles.root!.keyids[0]!];
    assert.deepEqual(signers, expected.sort(), "signed by the old root key(s) and, for root, the new one");
    // The old key is kept aside under retired/, the new one took its file name.
    const retired = rotated.retired as { privateKeyPath: string; keyId: string }[];
    assert.equal(retired.length, 1);
    assert.equal(retired[0]!.keyId, oldKeyId);
    assert.ok(retired[0]!.privateKeyPath.startsWith(join(s.repo.keysDir, "retired")));
    const retiredKey = parsePrivateKeyText(role, await readFile(retired[0]!.privateKeyPath, "utf8"), "retired");
    assert.equal(retiredKey.keyId, oldKeyId);
    const current = parsePrivateKeyText(role, await readFile(join(s.repo.keysDir, `${role}.key`), "utf8"), "current");
    assert.equal(current.keyId, rotated.newKeyId);

    await publishCli(s.repo, s.work, "1.1.0");
    const update = ok(await runCli(["update", "--dir", s.appDir, "--json"], LIMIT));
    assert.equal(update.updated, true, JSON.stringify(update));
    assert.equal(await currentVersion(s.appDir), "1.1.0");
    assert.equal(await trustedRootVersion(s.appDir), 2, "the install now trusts root version 2");
  });
}

test("a 2-of-3 root signed by one key: the publisher refuses it, the client refuses it, and a second signature publishes it", async (t) => {
  const s = await installed(t, 3, 2);
  const root1 = await rootDoc(s.repo, "1.root.json");
  assert.equal(root1.signed.roles.root!.threshold, 2);
  assert.equal(root1.signed.roles.root!.keyids.length, 3);
  assert.equal(root1.signatures.length, 3, "init signs with every root key at hand");

  // Two of the three root key holders keep their keys elsewhere.
  const offline = join(s.work, "offline");
  await mkdir(offline);
  for (const n of [2, 3]) await rename(join(s.repo.keysDir, `root-${n}.key`), join(offline, `root-${n}.key`));

  const rotated = await rotate(s, "targets");
  assert.equal(rotated.pending, true);
  const status = rotated.status as { current: { signed: number; threshold: number }; complete: boolean };
  assert.deepEqual([status.current.signed, status.current.threshold, status.complete], [1, 2, false]);
  const pendingFile = String(rotated.pendingFile);

  const refused = await repoCli(s, ["root", "publish"]);
  failure(refused, ExitCodes.CONFIG, ErrorCodes.ROOT_THRESHOLD);
  await assert.rejects(readFile(join(metadataDir(s.repo), "2.root.json")), { code: "ENOENT" });

  // A publisher that writes it anyway: the client walks to it and refuses it.
  await copyFile(pendingFile, join(metadataDir(s.repo), "2.root.json"));
  const clientRefused = await runCli(["update", "--dir", s.appDir, "--json"], LIMIT);
  const error = failure(clientRefused, ExitCodes.SECURITY, ErrorCodes.METADATA_SIGNATURE);
  assert.equal((error.details as Record<string, unknown>).role, "root");
  assert.match(String(error.message), /new root version is not signed by enough keys/);
  assert.equal(await currentVersion(s.appDir), "1.0.0");
  assert.equal(await trustedRootVersion(s.appDir), 1);
  await rm(join(metadataDir(s.repo), "2.root.json"));

  // A second holder signs offline; the root is published with the chain re-signed by the new targets key.
  const signed = ok(await repoCli(s, ["root", "sign", "--key", join(offline, "root-2.key")], false));
  assert.equal((signed.status as { complete: boolean }).complete, true);
  const published = ok(await repoCli(s, ["root", "publish"]));
  assert.deepEqual((published.chain as { resigned: string[] }).resigned, ["targets", "snapshot", "timestamp"]);
  await assert.rejects(readFile(pendingFile), { code: "ENOENT" }, "the pending file is gone");

  await publishCli(s.repo, s.work, "1.1.0");
  ok(await runCli(["update", "--dir", s.appDir, "--json"], LIMIT));
  assert.equal(await currentVersion(s.appDir), "1.1.0");
  assert.equal(await trustedRootVersion(s.appDir), 2);
});

test("a signature by a key that is not a root key is refused by root sign (KEY_INVALID)", async (t) => {
  const s = await installed(t, 3, 2);
  ok(await runCli(["root", "prepare", "--repo", s.repo.repoDir, "--app", "hello", "--json"], LIMIT));
  const run = await runCli(
    [
      "root",
      "sign",
      "--repo",
      s.repo.repoDir,
      "--app",
      "hello",
      "--key",
      join(s.repo.keysDir, "targets.key"),
      "--json",
    ],
    LIMIT,
  );
  failure(run, ExitCodes.CONFIG, ErrorCodes.KEY_INVALID);
});

test("a targets key retired by a rotation cannot sign a release the client accepts; the new key can", async (t) => {
  const s = await installed(t);
  const rotated = await rotate(s, "targets");
  const retiredPath = (rotated.retired as { privateKeyPath: string }[])[0]!.privateKeyPath;
  const leaked = parsePrivateKeyText("targets", await readFile(retiredPath, "utf8"), "leaked");
  const load = async (r: RoleName) =>
    parsePrivateKeyText(r, await readFile(join(s.repo.keysDir, `${r}.key`), "utf8"), r);
  const [targets, snapshot, timestamp] = [await load("targets"), await load("snapshot"), await load("timestamp")];
  await publishCli(s.repo, s.work, "1.1.0");

  // The thief re-signs the latest targets (which offer 1.1.0) with the leaked key, over a valid snapshot and timestamp.
  await forgeChain(s.repo, {
    targets: { signers: [leaked] },
    snapshot: { signers: [snapshot] },
    timestamp: { signers: [timestamp] },
  });
  const refused = await runCli(["update", "--dir", s.appDir, "--json"], LIMIT);
  const error = failure(refused, ExitCodes.SECURITY, ErrorCodes.METADATA_SIGNATURE);
  assert.equal((error.details as Record<string, unknown>).role, "targets");
  assert.equal(await currentVersion(s.appDir), "1.0.0");

  // The same forgery with the key the new root lists is accepted: the refusal above was the key's.
  await forgeChain(s.repo, {
    targets: { signers: [targets] },
    snapshot: { signers: [snapshot] },
    timestamp: { signers: [timestamp] },
  });
  ok(await runCli(["update", "--dir", s.appDir, "--json"], LIMIT));
  assert.equal(await currentVersion(s.appDir), "1.1.0");
});

test("after a rotation, publish with the old key folder is refused (KEY_INVALID) before it writes anything", async (t) => {
  const s = await installed(t);
  const keysCopy = join(s.work, "old-keys");
  await mkdir(keysCopy);
  for (const r of ROLES) await copyFile(join(s.repo.keysDir, `${r}.key`), join(keysCopy, `${r}.key`));
  await rotate(s, "snapshot");
  const timestampBefore = await readFile(join(metadataDir(s.repo), "timestamp.json"));
  const build = await writeBuild(join(s.work, "build-old"), { "bin/app": "#!/bin/sh\necho old\n" });
  const run = await runCli(
    ["publish", build, "--repo", s.repo.repoDir, "--app", "hello", "--version", "1.2.0", "--keys", keysCopy, "--json"],
    LIMIT,
  );
  failure(run, ExitCodes.CONFIG, ErrorCodes.KEY_INVALID);
  assert.deepEqual(await readFile(join(metadataDir(s.repo), "timestamp.json")), timestampBefore);
  await assert.rejects(readFile(join(metadataDir(s.repo), "3.targets.json")), { code: "ENOENT" });
});

test("keys rotate --role root --number 2 in a 2-of-3 root replaces only root-2, signed by two old keys and the new one", async (t) => {
  const s = await installed(t, 3, 2);
  const before = await rootDoc(s.repo);
  const rotated = await rotate(s, "root", ["--number", "2"]);
  assert.equal(rotated.pending, false);
  const after = await rootDoc(s.repo, "2.root.json");
  const oldIds = before.signed.roles.root!.keyids;
  assert.equal(rotated.oldKeyId, oldIds[1]);
  assert.deepEqual(after.signed.roles.root, { keyids: [oldIds[0], oldIds[2], rotated.newKeyId], threshold: 2 });
  const root2 = parsePrivateKeyText("root", await readFile(join(s.repo.keysDir, "root-2.key"), "utf8"), "root-2");
  assert.equal(root2.keyId, rotated.newKeyId, "the new key took root-2.key's place");
  await publishCli(s.repo, s.work, "1.1.0");
  ok(await runCli(["update", "--dir", s.appDir, "--json"], LIMIT));
  assert.equal(await trustedRootVersion(s.appDir), 2);
});

test("root prepare refuses a threshold above the root's keys and a second key for an online role (USAGE), writing nothing", async (t) => {
  const s = await installed(t, 2, 1);
  const base = ["root", "prepare", "--repo", s.repo.repoDir, "--app", "hello", "--json"];
  failure(await runCli([...base, "--threshold", "3"], LIMIT), ExitCodes.USAGE, ErrorCodes.USAGE);
  const extra = join(s.work, "extra");
  ok(await runCli(["keys", "generate", "--out", extra, "--json"], LIMIT));
  failure(
    await runCli([...base, "--role", "targets", "--add-key", join(extra, "targets.pub")], LIMIT),
    ExitCodes.USAGE,
    ErrorCodes.USAGE,
  );
  await assert.rejects(readFile(join(s.repo.repoDir, "hello", "root.pending.json")), { code: "ENOENT" });
  // A change-less prepare renews the expiry; the one root key at hand meets the threshold of 1.
  ok(await runCli([...base, "--expires-days", "730"], LIMIT));
  ok(await repoCli(s, ["root", "sign", "--key", join(s.repo.keysDir, "root.key")], false));
  const published = ok(await repoCli(s, ["root", "publish"]));
  assert.deepEqual((published.chain as { resigned: string[] }).resigned, ["timestamp"]);
  const expires = Date.parse((await rootDoc(s.repo, "2.root.json")).signed.expires);
  assert.ok(expires > Date.now() + 700 * 86_400_000);
  ok(await runCli(["update", "--dir", s.appDir, "--json"], LIMIT));
  assert.equal(await trustedRootVersion(s.appDir), 2);
});

test("a rotation interrupted after its root was published is finished by root publish, and blocks a new rotation until then", async (t) => {
  const s = await installed(t);
  const rotated = await rotate(s, "targets");
  // Put the key folder back as it was before the key files were settled: new key waiting, old key in place.
  const retiredKey = (rotated.retired as { privateKeyPath: string }[])[0]!.privateKeyPath;
  for (const ext of ["key", "pub"]) {
    await rename(join(s.repo.keysDir, `targets.${ext}`), join(s.repo.keysDir, `targets.next.${ext}`));
    await rename(retiredKey.replace(/\.key$/, `.${ext}`), join(s.repo.keysDir, `targets.${ext}`));
  }
  failure(await repoCli(s, ["keys", "rotate", "--role", "snapshot"]), ExitCodes.USAGE, ErrorCodes.USAGE);

  const finished = ok(await repoCli(s, ["root", "publish"]));
  assert.deepEqual(finished.changedRoles, ["targets"]);
  assert.equal((finished.retired as unknown[]).length, 1);
  const current = parsePrivateKeyText("targets", await readFile(join(s.repo.keysDir, "targets.key"), "utf8"), "t");
  assert.equal(current.keyId, rotated.newKeyId);
  await publishCli(s.repo, s.work, "1.1.0");
  ok(await runCli(["update", "--dir", s.appDir, "--json"], LIMIT));
  assert.equal(await currentVersion(s.appDir), "1.1.0");
});
