/** `updraft serve` as a real child process: URL on stdout, logging, errors, graceful shutdown. */
import assert from "node:assert/strict";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { get, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runCli, startCli } from "./helpers/cli.js";
import { PUBLISHED, writePublished } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor, waitUntil } from "./helpers/wait.js";

interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `updraft serve` and waits for its "Serving … at URL" line. */
async function startServe(t: TestContext, args: string[]): Promise<ServeProcess> {
  const { child, stdout, stderr, exited } = startCli(t, ["serve", ...args]);
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const listening = () => /^Serving .* at (http:\/\/\S+\/)\n/m.exec(stdout())?.[1];
  await waitUntil(() => ended || listening() !== undefined, "the Serving line");
  const url = listening();
  if (url === undefined) throw new Error(`serve exited with ${(await exited).code} before listening: ${stderr()}`);
  return { child, url, stderr, exited };
}

/** True once nothing accepts TCP connections at `url`'s port; undefined while something does. */
function refusesConnections(url: string): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(url).port), "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once("error", () => resolve(true));
  });
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

test("updraft serve prints its URL, serves files, logs with --verbose, and exits 0 on SIGINT", async (t) => {
  const root = await tempDir(t);
  await writePublished(root, PUBLISHED.timestamp, '{"hello":1}\n');
  const serve = await startServe(t, [root, "--port", "0", "--host", "127.0.0.1", "--verbose"]);
  assert.match(serve.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.notEqual(serve.url, "http://127.0.0.1:0/");
  const res = await fetch(`${serve.url}${PUBLISHED.timestamp}`);
  assert.equal(await res.text(), '{"hello":1}\n');
  serve.child.kill("SIGINT");
  assert.deepEqual(await serve.exited, { code: 0, signal: null });
  assert.match(serve.stderr(), /GET "\/demo\/metadata\/timestamp\.json" 200/);
});

test("updraft serve logs nothing without --verbose", async (t) => {
  const root = await tempDir(t);
  await writePublished(root, PUBLISHED.timestamp, "a");
  const serve = await startServe(t, [root, "--port", "0"]);
  await (await fetch(`${serve.url}${PUBLISHED.timestamp}`)).text();
  serve.child.kill("SIGTERM");
  assert.deepEqual(await serve.exited, { code: 0, signal: null });
  assert.equal(serve.stderr(), "");
});

test("SIGTERM lets a large download in progress finish, refuses new connections, and exits 0", async (t) => {
  const root = await tempDir(t);
  const big = randomBytes(48 * 1024 * 1024);
  await writePublished(root, PUBLISHED.archive, big);
  const serve = await startServe(t, [root, "--port", "0", "--verbose"]);

  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${serve.url}${PUBLISHED.archive}`, resolve).on("error", reject),
  );
  assert.equal(res.statusCode, 200);
  const chunks: Buffer[] = [];
  // Take the first bytes, then stop reading so that the download is surely still in progress.
  await new Promise<void>((resolve) => {
    res.once("data", (chunk: Buffer) => {
      chunks.push(chunk);
      res.pause();
      resolve();
    });
  });
  serve.child.kill("SIGTERM");
  await waitUntil(() => /finishing downloads in progress/.test(serve.stderr()), "serve to say it is stopping");
  await waitFor("new connections to be refused", () => refusesConnections(serve.url));
  assert.equal(serve.child.exitCode, null, "still running while the download is in progress");

  const done = new Promise<void>((resolve, reject) => {
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", resolve);
    res.on("error", reject);
  });
  res.resume();
  await done;
  const body = Buffer.concat(chunks);
  assert.equal(body.length, big.length);
  assert.equal(sha256(body), sha256(big));
  assert.deepEqual(await serve.exited, { code: 0, signal: null });
});

test("updraft serve on a missing folder fails with REPO_NOT_FOUND; a bad port is a usage error", async (t) => {
  const root = await tempDir(t);
  const missing = await runCli(["serve", join(root, "nope"), "--port", "0"]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /REPO_NOT_FOUND/);
  assert.equal(missing.stdout, "");
  const badPort = await runCli(["serve", root, "--port", "99999"]);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /USAGE/);
});

test("updraft serve --workers 3 serves from three processes on one port, and all of them stop on SIGTERM", {
  skip: process.platform !== "linux",
}, async (t) => {
  const root = await tempDir(t);
  await writePublished(root, PUBLISHED.timestamp, "{}");
  const serve = await startServe(t, [root, "--port", "0", "--workers", "3", "--verbose"]);
  // Fresh connections are spread by the kernel: each worker logs the requests it answers.
  for (let i = 0; i < 60; i++) {
    const res = await fetch(`${serve.url}${PUBLISHED.timestamp}`, { headers: { connection: "close" } });
    assert.equal(await res.text(), "{}");
  }
  serve.child.kill("SIGTERM");
  assert.deepEqual(await serve.exited, { code: 0, signal: null });
  await waitFor("the port to be free", () => refusesConnections(serve.url));
  assert.equal(serve.stderr().match(/GET "\/demo\/metadata\/timestamp\.json" 200/g)?.length, 60);
});

test("updraft serve --access-log writes one JSON line per published file, with the address only under --log-ip", async (t) => {
  const root = await tempDir(t);
  const logDir = await tempDir(t);
  await writePublished(root, PUBLISHED.archive, "archive");
  for (const [flags, withIp] of [
    [[], false],
    [["--log-ip"], true],
  ] as const) {
    const logFile = join(logDir, `access-${withIp}.log`);
    const serve = await startServe(t, [root, "--port", "0", "--access-log", logFile, ...flags]);
    assert.equal(await (await fetch(`${serve.url}${PUBLISHED.archive}`)).text(), "archive");
    assert.equal((await fetch(`${serve.url}notes.txt`)).status, 404);
    serve.child.kill("SIGTERM");
    assert.deepEqual(await serve.exited, { code: 0, signal: null });
    const lines = (await readFile(logFile, "utf8")).trim().split("\n");
    assert.equal(lines.length, 1, "unpublished names are not logged");
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(
      { ...record, time: typeof record.time },
      {
        time: "string",
        app: "demo",
        kind: "full",
        version: "1.0.0",
        status: 200,
        bytes: 7,
        ...(withIp ? { ip: "127.0.0.1" } : {}),
      },
    );
  }
});
