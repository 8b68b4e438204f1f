/**
 * Root establishment, each way an install comes to trust a root: the root it already trusts, the
 * `updraft-root.json` in its app folder, a root file, a pinned fingerprint (with or without
 * `sha256:`, any case), and first use; a repository without signed metadata when first use only
 * probes. Refusals (a wrong pin, a malformed pin, bytes that are no root) leave the install's
 * files exactly as they were. Against a real repository served on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installLayout } from "../src/client/install/layout.js";
import { HttpClient } from "../src/client/net/http.js";
import { chooseRoot, establishRoot, type RootOptions } from "../src/client/trust/root.js";
import { TrustSession } from "../src/client/trust/session.js";
import { ErrorCodes, isUpdraftError } from "../src/core/errors.js";
import { EMBEDDED_ROOT_FILE } from "../src/formats/native.js";
import { type FaultServer, startFaultServer } from "./helpers/fault-server.js";
import { createTestRepo, publish, type TestRepo, treeDigest } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

interface Fixture {
  repo: TestRepo;
  server: FaultServer;
  /** The repository's `1.root.json`. */
  firstRoot: Buffer;
  /** A fresh install folder (created, empty). */
  installDir: string;
  /** The options naming that install's metadata folder and the served repository. */
  base: RootOptions & Required<Pick<RootOptions, "repository">>;
}

async function fixture(t: TestContext): Promise<Fixture> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "bin/app": "#!/bin/sh\necho 1\n" });
  const server = await startFaultServer(t, repo.repoDir);
  const installDir = join(work, "install");
  await mkdir(installDir);
  const http = new HttpClient({ retry: { attempts: 1 } });
  return {
    repo,
    server,
    firstRoot: await readFile(join(repo.repoDir, repo.app, "metadata", "1.root.json")),
    installDir,
    base: {
      metadataDir: installLayout(installDir).tufDir,
      repository: { repoUrl: server.url, app: repo.app, http },
    },
  };
}

/** Requests for the repository's root so far. */
function rootRequests(f: Fixture): number {
  return f.server.requests(/\/1\.root\.json$/).length;
}

/** The root the install trusts now, or undefined. */
function trusted(f: Fixture): Promise<Buffer | undefined> {
  return TrustSession.trustedRoot(f.base.metadataDir);
}

/** Asserts `attempt` fails with `code` and leaves every file of the install folder as it was. */
async function assertRefused(f: Fixture, attempt: () => Promise<unknown>, code: string): Promise<void> {
  const before = await treeDigest(f.installDir);
  await assert.rejects(attempt, (err: unknown) => isUpdraftError(err) && err.code === code);
  assert.deepEqual(await treeDigest(f.installDir), before, "nothing changed");
}

test("first use fetches 1.root.json, reports its fingerprint, and writes it as the install's trusted root", async (t) => {
  const f = await fixture(t);
  const root = await establishRoot({ ...f.base, firstUse: "trust" });
  assert.equal(root?.source, "first-use");
  assert.equal(root.fingerprint, f.repo.rootSha256);
  assert.deepEqual(root.root, f.firstRoot);
  assert.deepEqual(await trusted(f), f.firstRoot);
  // The root is usable: a session refreshes from it.
  const layout = installLayout(f.installDir);
  const session = new TrustSession(
    { repoUrl: f.server.url, app: f.repo.app },
    layout.tufDir,
    layout.cacheDir,
    f.base.repository.http,
  );
  await session.refresh();
});

test("a root the install already trusts is kept, with no request, whatever else is offered", async (t) => {
  const f = await fixture(t);
  await establishRoot({ ...f.base, firstUse: "trust" });
  const requests = rootRequests(f);
  const root = await establishRoot({ ...f.base, firstUse: "trust", pin: "0".repeat(64) });
  assert.equal(root?.source, "cache");
  assert.equal(root.fingerprint, f.repo.rootSha256);
  assert.equal(rootRequests(f), requests, "the cache is not checked against the repository");
});

test("the app folder's updraft-root.json is trusted without a request; a pin or a root file takes precedence", async (t) => {
  const f = await fixture(t);
  const appFolder = join(f.installDir, "app");
  await mkdir(appFolder);
  await writeFile(join(appFolder, EMBEDDED_ROOT_FILE), f.firstRoot);

  const pinned = await chooseRoot({ ...f.base, appFolder, pin: f.repo.rootSha256 });
  assert.equal(pinned?.source, "pinned");
  assert.equal(rootRequests(f), 1, "a pin is checked against the repository's root");
  const fromFile = await chooseRoot({ ...f.base, appFolder, rootFile: f.firstRoot });
  assert.equal(fromFile?.source, "file");

  const shipped = await establishRoot({ ...f.base, appFolder, firstUse: "trust" });
  assert.equal(shipped?.source, "app-folder");
  assert.equal(shipped.fingerprint, f.repo.rootSha256);
  assert.deepEqual(await trusted(f), f.firstRoot);
  assert.equal(rootRequests(f), 1, "the shipped root needs no request");
});

test("a pin is taken with or without sha256:, in any case", async (t) => {
  const f = await fixture(t);
  for (const pin of [f.repo.rootSha256, `sha256:${f.repo.rootSha256.toUpperCase()}`, ` ${f.repo.rootSha256} `]) {
    const root = await chooseRoot({ ...f.base, pin });
    assert.equal(root?.source, "pinned", pin);
    assert.equal(root.fingerprint, f.repo.rootSha256);
  }
  assert.equal(await trusted(f), undefined, "choosing writes nothing");
  const root = await establishRoot({ ...f.base, pin: `sha256:${f.repo.rootSha256}` });
  assert.equal(root?.source, "pinned");
  assert.deepEqual(await trusted(f), f.firstRoot);
});

test("a root file the user gives is trusted without a request, and checked against a pin when there is one", async (t) => {
  const f = await fixture(t);
  const root = await establishRoot({ ...f.base, rootFile: f.firstRoot, pin: f.repo.rootSha256 });
  assert.equal(root?.source, "file");
  assert.equal(root.fingerprint, f.repo.rootSha256);
  assert.deepEqual(await trusted(f), f.firstRoot);
  assert.equal(f.server.log.length, 0, "no request");
  await assertRefused(
    f,
    () => establishRoot({ ...f.base, keepTrusted: false, rootFile: f.firstRoot, pin: "ab".repeat(32) }),
    ErrorCodes.ROOT_MISMATCH,
  );
});

test("a wrong pin is refused with ROOT_MISMATCH and changes nothing, also over a root trusted before", async (t) => {
  const f = await fixture(t);
  const wrong = "ab".repeat(32);
  await assertRefused(f, () => establishRoot({ ...f.base, pin: wrong }), ErrorCodes.ROOT_MISMATCH);
  assert.equal(await trusted(f), undefined);
  await establishRoot({ ...f.base, firstUse: "trust" });
  await assertRefused(f, () => establishRoot({ ...f.base, keepTrusted: false, pin: wrong }), ErrorCodes.ROOT_MISMATCH);
  assert.deepEqual(await trusted(f), f.firstRoot);
});

test("a malformed pin is refused with USAGE before any request, and changes nothing", async (t) => {
  const f = await fixture(t);
  for (const pin of ["sha256:f8d5", "", `md5:${f.repo.rootSha256}`, `${f.repo.rootSha256}0`, "g".repeat(64)]) {
    await assertRefused(f, () => establishRoot({ ...f.base, firstUse: "trust", pin }), ErrorCodes.USAGE);
  }
  await establishRoot({ ...f.base, firstUse: "trust" });
  const requests = f.server.log.length;
  await assertRefused(f, () => establishRoot({ ...f.base, pin: "sha256:f8d5" }), ErrorCodes.USAGE);
  assert.equal(f.server.log.length, requests, "no request");
});

test("bytes that are no TUF root are refused with METADATA_INVALID and change nothing", async (t) => {
  const f = await fixture(t);
  await assertRefused(f, () => establishRoot({ ...f.base, rootFile: Buffer.from("{}") }), ErrorCodes.METADATA_INVALID);
  f.server.addFault({ match: /\/1\.root\.json$/, fault: { kind: "html" } });
  await assertRefused(f, () => establishRoot({ ...f.base, firstUse: "trust" }), ErrorCodes.METADATA_INVALID);
  const appFolder = join(f.installDir, "app");
  await mkdir(appFolder);
  await writeFile(join(appFolder, EMBEDDED_ROOT_FILE), "not a root");
  await assertRefused(f, () => establishRoot({ ...f.base, appFolder }), ErrorCodes.METADATA_INVALID);
});

test("without signed metadata: probing first use establishes no root, required first use fails, refused first use asks nothing", async (t) => {
  const f = await fixture(t);
  const unsigned: RootOptions["repository"] = { ...f.base.repository, app: "no-such-app" };
  assert.equal(await establishRoot({ ...f.base, repository: unsigned, firstUse: "if-signed" }), undefined);
  await assertRefused(
    f,
    () => establishRoot({ ...f.base, repository: unsigned, firstUse: "trust" }),
    ErrorCodes.HTTP_STATUS,
  );
  // A server answering 200 with an error page for the missing root has no signed metadata either.
  f.server.addFault({ match: /\/1\.root\.json$/, fault: { kind: "html" } });
  assert.equal(await establishRoot({ ...f.base, firstUse: "if-signed" }), undefined);
  const requests = f.server.log.length;
  assert.equal(await establishRoot({ ...f.base, firstUse: "refuse" }), undefined);
  assert.equal(await establishRoot({ metadataDir: f.base.metadataDir }), undefined);
  assert.equal(f.server.log.length, requests, "refused first use makes no request");
  assert.equal(await trusted(f), undefined);
  // A pinned repository must have its root: a missing one is an error, not "unsigned".
  f.server.clearFaults();
  await assertRefused(
    f,
    () => establishRoot({ ...f.base, repository: unsigned, firstUse: "if-signed", pin: f.repo.rootSha256 }),
    ErrorCodes.HTTP_STATUS,
  );
});
