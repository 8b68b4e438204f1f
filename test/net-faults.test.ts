/**
 * Hostile networks, against a real fault-injecting server on 127.0.0.1: for each fault the client
 * either installs exactly the signed release or fails with a specific error code, leaving the
 * installed version untouched; resumed downloads fetch only the missing bytes (counted on the
 * server); retries honour Retry-After; redirects are bounded; the token stays with its origin;
 * every request asks for the identity encoding; a dripping server meets the metadata deadline.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import type { DownloadProgress } from "../src/client/net/download.js";
import { type FetchFunction, smallDocumentDeadlineMs } from "../src/client/net/http.js";
import type { RetryInfo } from "../src/client/net/retry.js";
import { Updater, type UpdaterOptions } from "../src/client/updater.js";
import { type ErrorCode, ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { type FaultServer, startFaultServer } from "./helpers/fault-server.js";
import {
  createTestRepo,
  manifestDigest,
  publish,
  signedManifest,
  type TestRepo,
  targetFilePath,
  treeDigest,
} from "./helpers/repo.js";
import { startRawServer } from "./helpers/servers.js";
import { tempDir } from "./helpers/tmp.js";
import { waitUntil } from "./helpers/wait.js";

const ARCHIVE = /1\.1\.0\/any\/[0-9a-f]{64}\.full\.tar\.zst$/;
const TIMESTAMP = /timestamp\.json$/;

const files = (version: string) => ({
  "bin/app": `#!/bin/sh\necho ${version}\n`,
  // Incompressible, so the archive is big enough to be cut in the middle of several chunks.
  "data.bin": randomBytes(300_000),
});

interface Setup {
  repo: TestRepo;
  fault: FaultServer;
  appDir: string;
  work: string;
  size: number;
}

async function setup(t: TestContext): Promise<Setup> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", files("1.0.0"));
  const fault = await startFaultServer(t, repo.repoDir);
  const appDir = join(work, "install");
  await installFromRepository({ repoUrl: fault.url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const size = (await stat(await targetFilePath(repo, "releases/1.1.0/any/full.tar.zst"))).size;
  fault.log.length = 0;
  return { repo, fault, appDir, work, size };
}

function updater(s: Setup, extra: Partial<UpdaterOptions> = {}): Updater {
  return new Updater({
    installDir: s.appDir,
    retry: { baseDelayMs: 5, maxDelayMs: 40, ...extra.retry },
    stallTimeoutMs: 20_000,
    backoffMs: 0,
    ...extra,
  });
}

async function assertUntouched(s: Setup): Promise<void> {
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.0.0");
  assert.deepEqual(await treeDigest(join(s.appDir, "current/")), manifestDigest(await signedManifest(s.repo, "1.0.0")));
  assert.deepEqual((await readdir(s.appDir)).sort(), [".updraft", "app-1.0.0", "current"]);
}

async function assertInstalled(s: Setup, version = "1.1.0"): Promise<void> {
  assert.equal(await readlink(join(s.appDir, "current")), `app-${version}`);
  assert.deepEqual(await treeDigest(join(s.appDir, "current/")), manifestDigest(await signedManifest(s.repo, version)));
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<UpdraftError> {
  let caught: UpdraftError | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof UpdraftError, `expected an UpdraftError, got ${err}`);
    assert.equal(err.code, code, `${err.code}: ${err.message}`);
    caught = err;
    return true;
  });
  return caught!;
}

function monotonic(events: DownloadProgress[]): void {
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.restarted) continue;
    assert.ok(events[i]!.transferred >= events[i - 1]!.transferred, "progress goes backwards only with restarted");
  }
}

test("reset mid-download: resumed with Range, only the missing bytes are sent again, exact release installed", async (t) => {
  const s = await setup(t);
  const cut = Math.floor(s.size / 3);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "reset", atByte: cut }, times: 1 });
  const progress: DownloadProgress[] = [];
  const u = updater(s);
  u.on("download-progress", (p) => progress.push(p));
  await u.update();
  await assertInstalled(s);
  const [first, second, ...rest] = s.fault.requests(ARCHIVE);
  assert.equal(rest.length, 0);
  assert.equal(first!.bytesSent, cut);
  const resumeAt = Number(second!.range!.match(/^bytes=(\d+)-$/)![1]);
  assert.ok(resumeAt > 0 && resumeAt <= cut, `resumed at ${resumeAt}`);
  assert.ok(second!.ifRange, "If-Range carries the validator");
  assert.equal(second!.status, 206);
  assert.equal(second!.bytesSent, s.size - resumeAt, "only the missing part was sent again");
  monotonic(progress);
  assert.ok(!progress.some((p) => p.restarted), "a resume is not a restart");
});

test("resets on every response: each attempt resumes further; out of attempts it fails NETWORK, a later run finishes", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "reset", atByte: 20_000 } });
  await expectCode(updater(s, { retry: { attempts: 3 } }).update(), ErrorCodes.NETWORK);
  await assertUntouched(s);
  const tries = s.fault.requests(ARCHIVE);
  assert.equal(tries.length, 3, "bounded attempts");
  assert.equal(tries[2]!.range, `bytes=${40_000}-`, "third attempt resumes after the first two pieces");
  s.fault.clearFaults();
  await updater(s).update();
  await assertInstalled(s);
  const last = s.fault.requests(ARCHIVE).at(-1)!;
  assert.equal(last.range, `bytes=${60_000}-`, "the next run resumes from the .part file");
  assert.equal(last.bytesSent, s.size - 60_000);
});

test("a stalled response is dropped after the stall timeout and the download resumes", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "stall", afterBytes: 50_000 }, times: 1 });
  await updater(s, { stallTimeoutMs: 300 }).update();
  await assertInstalled(s);
  const [, second] = s.fault.requests(ARCHIVE);
  assert.match(second!.range ?? "", /^bytes=\d+-$/);
  assert.equal(second!.bytesSent, s.size - Number(second!.range!.slice(6, -1)));
});

test("a server that always stalls fails with NETWORK (reason stalled); the overall deadline gives TIMEOUT", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "stall", afterBytes: 1000 } });
  const stalled = await expectCode(
    updater(s, { stallTimeoutMs: 200, retry: { attempts: 2 } }).update(),
    ErrorCodes.NETWORK,
  );
  assert.equal(stalled.details?.reason, "stalled");
  await assertUntouched(s);
  // A stall timeout longer than the deadline: the deadline ends it, with its own code.
  await expectCode(updater(s, { stallTimeoutMs: 60_000, deadlineMs: 300 }).update(), ErrorCodes.TIMEOUT);
  await assertUntouched(s);
});

test("503 with Retry-After is retried after the delay the server asked for; 500 is retried with back-off", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "status", status: 503, retryAfter: "1" }, times: 1 });
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "status", status: 500 }, times: 1 });
  s.fault.addFault({ match: TIMESTAMP, fault: { kind: "status", status: 503, retryAfter: "0" }, times: 1 });
  const retries: RetryInfo[] = [];
  await updater(s, { retry: { onRetry: (r) => retries.push(r) } }).update();
  await assertInstalled(s);
  assert.deepEqual(
    retries.map((r) => [r.error.details?.status, r.fromRetryAfter, r.fromRetryAfter ? r.delayMs : "backoff"]),
    [
      [503, true, 0],
      [503, true, 1000],
      [500, false, "backoff"],
    ],
  );
  assert.deepEqual(
    s.fault.requests(ARCHIVE).map((r) => r.status),
    [503, 500, 200],
  );
});

test("503 on every attempt fails HTTP_STATUS after the bounded attempts; a Retry-After beyond the cap fails at once", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "status", status: 503 } });
  const e = await expectCode(updater(s, { retry: { attempts: 3 } }).update(), ErrorCodes.HTTP_STATUS);
  assert.equal(e.details?.status, 503);
  assert.equal(s.fault.requests(ARCHIVE).length, 3);
  await assertUntouched(s);
  s.fault.clearFaults();
  s.fault.log.length = 0;
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "status", status: 503, retryAfter: "3600" } });
  await expectCode(updater(s).update(), ErrorCodes.HTTP_STATUS);
  assert.equal(s.fault.requests(ARCHIVE).length, 1, "an hour-long Retry-After is not waited for");
  await assertUntouched(s);
});

test("a body truncated below its Content-Length is resumed", async (t) => {
  const s = await setup(t);
  const at = Math.floor(s.size / 2);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "truncate", atByte: at }, times: 1 });
  await updater(s).update();
  await assertInstalled(s);
  const [first, second] = s.fault.requests(ARCHIVE);
  assert.equal(first!.bytesSent, at);
  assert.equal(second!.range, `bytes=${at}-`);
  assert.equal(second!.bytesSent, s.size - at);
});

test("a flipped byte fails TARGET_MISMATCH with nothing installed; the next run installs the exact release", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "flip", atByte: 12_345 }, times: 1 });
  // One attempt: on a loaded machine a retry could resume, and a resumed file is rebuilt once.
  await expectCode(updater(s, { retry: { attempts: 1 } }).update(), ErrorCodes.TARGET_MISMATCH);
  await assertUntouched(s);
  await updater(s).update();
  await assertInstalled(s);
});

test("a flipped byte in an earlier piece of a resumed file is repaired by one clean re-download", async (t) => {
  const s = await setup(t);
  // First response: byte 100 flipped, then the connection is reset; the resume completes a bad file.
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "reset", atByte: 150_000, flipAt: 100 }, times: 1 });
  const u = updater(s);
  const progress: DownloadProgress[] = [];
  u.on("download-progress", (p) => progress.push(p));
  await u.update();
  await assertInstalled(s);
  const tries = s.fault.requests(ARCHIVE);
  assert.deepEqual(
    tries.map((r) => [r.status, r.range]),
    [
      [200, undefined],
      [206, "bytes=150000-"],
      [200, undefined],
    ],
  );
  assert.equal(tries[2]!.bytesSent, s.size);
  assert.ok(
    progress.some((p) => p.restarted),
    "the rebuild is flagged as a restart",
  );
  monotonic(progress);
});

test("a 200 HTML error page instead of the archive is refused with TARGET_MISMATCH without retrying", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "html" } });
  const e = await expectCode(updater(s).update(), ErrorCodes.TARGET_MISMATCH);
  assert.match(e.message, /HTML page/);
  assert.equal(s.fault.requests(ARCHIVE).length, 1);
  await assertUntouched(s);
});

test("a 200 HTML error page instead of timestamp.json is refused with METADATA_INVALID", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: TIMESTAMP, fault: { kind: "html" } });
  await expectCode(updater(s).update(), ErrorCodes.METADATA_INVALID);
  await assertUntouched(s);
});

test("a server that ignores Range after a cut: the client restarts cleanly (restarted flag) and installs", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "reset", atByte: 100_000 }, times: 1 });
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "ignoreRange" }, times: 1 });
  const progress: DownloadProgress[] = [];
  const u = updater(s);
  u.on("download-progress", (p) => progress.push(p));
  await u.update();
  await assertInstalled(s);
  const [, second] = s.fault.requests(ARCHIVE);
  assert.ok(second!.range, "a range was asked for");
  assert.equal(second!.status, 200);
  assert.equal(second!.bytesSent, s.size);
  const restartedAt = progress.findIndex((p) => p.restarted);
  assert.ok(restartedAt > 0, "the first event after the restart is flagged");
  monotonic(progress);
});

test("redirect loops and endless redirect chains fail with TOO_MANY_REDIRECTS", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "redirectLoop" } });
  await expectCode(updater(s).update(), ErrorCodes.TOO_MANY_REDIRECTS);
  await assertUntouched(s);
  s.fault.clearFaults();
  s.fault.log.length = 0;
  s.fault.addFault({ match: TIMESTAMP, fault: { kind: "redirectChain" } });
  await expectCode(updater(s, { maxRedirects: 3 }).check(), ErrorCodes.TOO_MANY_REDIRECTS);
  assert.equal(s.fault.requests(TIMESTAMP).length, 4, "the first request and 3 redirects");
  await assertUntouched(s);
});

test("endless archive data stops at the signed length with TARGET_MISMATCH", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "endless" } });
  await expectCode(updater(s).update(), ErrorCodes.TARGET_MISMATCH);
  await assertUntouched(s);
  const archive = s.fault.requests(ARCHIVE)[0]!;
  await waitUntil(() => archive.closed, "the endless response to end");
  const sent = archive.bytesSent;
  assert.ok(sent < s.size + 16 * 1024 * 1024, `the server stopped after ${sent} bytes`);
});

test("token and custom headers go to the repository only, never to another host after a redirect", async (t) => {
  const s = await setup(t);
  const cdn = await startFaultServer(t, s.repo.repoDir);
  const archivePath = (await targetFilePath(s.repo, "releases/1.1.0/any/full.tar.zst")).slice(s.repo.repoDir.length);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "redirect", to: `${cdn.url}${archivePath}` } });
  const cdnUrl = new URL(cdn.url);
  assert.notEqual(cdnUrl.origin, new URL(s.fault.url).origin);
  await updater(s, { token: "s3cr3t-token", headers: { "x-tenant": "acme" } }).update();
  await assertInstalled(s);
  const repoRequests = s.fault.log;
  assert.ok(repoRequests.length > 0);
  for (const r of repoRequests) {
    assert.equal(r.headers.authorization, "Bearer s3cr3t-token", r.path);
    assert.equal(r.headers["x-tenant"], "acme");
  }
  assert.equal(cdn.log.length, 1);
  assert.equal(cdn.log[0]!.headers.authorization, undefined, "no token sent to the other host");
  assert.equal(cdn.log[0]!.headers["x-tenant"], undefined, "no custom header sent to the other host");
});

test("plain http:// to a non-loopback host is refused with INSECURE_TRANSPORT unless allowed", async (t) => {
  const s = await setup(t);
  await expectCode(updater(s, { repoUrl: "http://updates.example.com/repo" }).check(), ErrorCodes.INSECURE_TRANSPORT);
  // Allowed: it now really tries the network (TEST-NET address: nothing answers) and fails as a network error.
  await expectCode(
    updater(s, {
      repoUrl: "http://192.0.2.1:9/repo",
      allowInsecureHttp: true,
      stallTimeoutMs: 300,
      retry: { attempts: 1 },
    }).check(),
    ErrorCodes.NETWORK,
  );
  await assertUntouched(s);
});

test("every request asks for the identity encoding; an archive gzipped anyway is decoded and installs exactly", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "gzip" }, times: 1 });
  await updater(s).update();
  await assertInstalled(s);
  assert.equal(s.fault.requests(ARCHIVE)[0]!.fault, "gzip");
  for (const r of s.fault.log) assert.equal(r.headers["accept-encoding"], "identity", r.path);
});

test("an injected fetch carries every request, with the same rules (identity encoding, gzip decoded)", async (t) => {
  const s = await setup(t);
  s.fault.addFault({ match: ARCHIVE, fault: { kind: "gzip" }, times: 1 });
  const seen: string[] = [];
  const fetchFn: FetchFunction = (url, init) => {
    seen.push(url);
    return fetch(url, init);
  };
  await updater(s, { fetch: fetchFn }).update();
  await assertInstalled(s);
  assert.equal(seen.length, s.fault.log.length, "every request went through the injected fetch");
  for (const r of s.fault.log) assert.equal(r.headers["accept-encoding"], "identity", r.path);
});

test("a timestamp dripped a byte at a time fails with TIMEOUT at the default metadata deadline", async (t) => {
  const s = await setup(t);
  // One byte a second never trips the stall timeout; only an overall deadline ends it.
  s.fault.addFault({ match: TIMESTAMP, fault: { kind: "drip", intervalMs: 1000 } });
  const e = await expectCode(updater(s).check(), ErrorCodes.TIMEOUT);
  assert.equal(e.details?.deadlineMs, smallDocumentDeadlineMs(16384), e.message);
  await assertUntouched(s);
});

test("bodies cut mid-way by servers that send no length (closing, gzip, chunked) fail NETWORK, never crash", async (t) => {
  const s = await setup(t);
  for (const mode of ["close", "gzip", "chunked"] as const) {
    const cut = await startRawServer(s.repo.repoDir, mode, { cutAfter: 100_000 });
    t.after(() => cut.stop());
    await expectCode(updater(s, { repoUrl: cut.url, retry: { attempts: 2 } }).update(), ErrorCodes.NETWORK);
    await assertUntouched(s);
  }
  const whole = await startRawServer(s.repo.repoDir, "gzip");
  t.after(() => whole.stop());
  await updater(s, { repoUrl: whole.url }).update();
  await assertInstalled(s);
});
