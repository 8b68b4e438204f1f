/** The repository server: headers, validators, conditional requests, HEAD, caching rules, 404s. */
import assert from "node:assert/strict";
import { mkdir, rename, stat, utimes, writeFile } from "node:fs/promises";
import { Agent, get, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { CACHE_MUTABLE, createRepositoryServer } from "../src/server/index.js";
import { PUBLISHED, startServer, writePublished } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";

const HASH = "ab".repeat(32);
const TIMESTAMP = '{"signed":{"_type":"timestamp","version":1}}\n';

/** A small repository laid out as docs/format.md describes. */
async function makeRepo(root: string): Promise<void> {
  await mkdir(join(root, "demo/metadata"), { recursive: true });
  await mkdir(join(root, "demo/targets/releases/1.0.0"), { recursive: true });
  await mkdir(join(root, "demo/targets/channels"), { recursive: true });
  await writeFile(join(root, "demo/metadata/timestamp.json"), TIMESTAMP);
  await writeFile(join(root, "demo/metadata/root.json"), '{"root":2}\n');
  await writeFile(join(root, "demo/metadata/1.root.json"), '{"root":1}\n');
  await writeFile(join(root, "demo/metadata/3.snapshot.json"), '{"snapshot":3}\n');
  await writeFile(join(root, `demo/targets/channels/${HASH}.stable.json`), '{"channel":"stable"}\n');
  await writeFile(join(root, `demo/targets/releases/1.0.0/${HASH}.demo-1.0.0.tar.zst`), Buffer.alloc(5000, 7));
  await writeFile(join(root, "demo/.publish.lock"), "locked");
  await writeFile(join(root, "demo/metadata/.abc123.tmp"), "partial");
  await writeFile(join(root, "demo/metadata/timestamp.json.tmp"), "partial");
  await writeFile(join(root, "notes.txt"), "hello\n");
  await writeFile(join(root, "demo/versao.txt"), "1.0.0\n");
  await writeFile(join(root, "demo/demo_v1.0.0.zip"), "PK");
  await writeFile(join(root, "blob"), "x");
}

test("GET serves bytes with Content-Length, Content-Type, ETag, Last-Modified, Accept-Ranges", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);

  const res = await fetch(`${url}demo/metadata/timestamp.json`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), TIMESTAMP);
  assert.equal(res.headers.get("content-length"), String(Buffer.byteLength(TIMESTAMP)));
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("accept-ranges"), "bytes");
  assert.match(res.headers.get("etag") ?? "", /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
  const mtime = (await stat(join(root, "demo/metadata/timestamp.json"))).mtime;
  assert.equal(res.headers.get("last-modified"), new Date(Math.floor(mtime.getTime() / 1000) * 1000).toUTCString());
  assert.equal(res.headers.get("connection"), "keep-alive");

  const archive = await fetch(`${url}demo/targets/releases/1.0.0/${HASH}.demo-1.0.0.tar.zst`);
  assert.equal(archive.headers.get("content-type"), "application/zstd");
  assert.deepEqual(Buffer.from(await archive.arrayBuffer()), Buffer.alloc(5000, 7));
  const text = await fetch(`${url}demo/versao.txt`);
  assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
  await text.body?.cancel();
  const zip = await fetch(`${url}demo/demo_v1.0.0.zip`);
  assert.equal(zip.headers.get("content-type"), "application/zip");
  await zip.body?.cancel();
});

test("Cache-Control: a short max-age for mutable names, immutable for versioned metadata and targets", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  const cacheControl = async (path: string): Promise<string | null> => {
    const res = await fetch(`${url}${path}`, { method: "HEAD" });
    assert.equal(res.status, 200, path);
    return res.headers.get("cache-control");
  };
  const immutable = "public, max-age=31536000, immutable";
  assert.equal(await cacheControl("demo/metadata/timestamp.json"), CACHE_MUTABLE);
  assert.equal(await cacheControl("demo/metadata/root.json"), CACHE_MUTABLE);
  assert.equal(await cacheControl("demo/metadata/1.root.json"), immutable);
  assert.equal(await cacheControl("demo/metadata/3.snapshot.json"), immutable);
  assert.equal(await cacheControl(`demo/targets/channels/${HASH}.stable.json`), immutable);
  assert.equal(await cacheControl(`demo/targets/releases/1.0.0/${HASH}.demo-1.0.0.tar.zst`), immutable);
  assert.equal(await cacheControl("demo/versao.txt"), CACHE_MUTABLE);
});

test("If-None-Match answers 304 for the ETag, a list, a weak form and *; a stale tag gets 200", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  const file = `${url}demo/metadata/timestamp.json`;
  const first = await fetch(file);
  await first.text();
  const etag = first.headers.get("etag")!;

  for (const inm of [etag, `"nope", ${etag}`, `W/${etag}`, "*"]) {
    const res = await fetch(file, { headers: { "if-none-match": inm } });
    assert.equal(res.status, 304, inm);
    assert.equal(res.headers.get("etag"), etag);
    assert.equal(res.headers.get("cache-control"), CACHE_MUTABLE);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  }
  const stale = await fetch(file, { headers: { "if-none-match": '"0-0-0"' } });
  assert.equal(stale.status, 200);
  assert.equal(await stale.text(), TIMESTAMP);
});

test("If-Modified-Since answers 304 unless the file is newer; If-None-Match takes precedence", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  const file = `${url}demo/metadata/timestamp.json`;
  const first = await fetch(file);
  await first.text();
  const lastModified = first.headers.get("last-modified")!;

  const same = await fetch(file, { headers: { "if-modified-since": lastModified } });
  assert.equal(same.status, 304);
  const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  const changed = await fetch(file, { headers: { "if-modified-since": older } });
  assert.equal(changed.status, 200);
  await changed.text();
  const bothDisagree = await fetch(file, { headers: { "if-modified-since": lastModified, "if-none-match": '"x"' } });
  assert.equal(bothDisagree.status, 200);
  await bothDisagree.text();
  const garbage = await fetch(file, { headers: { "if-modified-since": "not a date" } });
  assert.equal(garbage.status, 200);
  await garbage.text();
});

test("HEAD has the GET headers and no body", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  const path = `${url}demo/targets/releases/1.0.0/${HASH}.demo-1.0.0.tar.zst`;
  const get = await fetch(path);
  await get.arrayBuffer();
  const head = await fetch(path, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  for (const name of ["content-length", "content-type", "etag", "last-modified", "cache-control", "accept-ranges"]) {
    assert.equal(head.headers.get(name), get.headers.get(name), name);
  }
  assert.equal(head.headers.get("content-length"), "5000");
  // Range is for GET only: HEAD describes the whole file.
  const headRange = await fetch(path, { method: "HEAD", headers: { range: "bytes=0-9" } });
  assert.equal(headRange.status, 200);
  assert.equal(headRange.headers.get("content-length"), "5000");
});

test("methods other than GET and HEAD get 405 with Allow", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
    const res = await fetch(`${url}demo/metadata/timestamp.json`, {
      method,
      ...(method === "OPTIONS" || method === "DELETE" ? {} : { body: "x" }),
    });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
    await res.text();
  }
});

test("folders, dotfiles, *.tmp files and missing files are 404, without local paths in the body", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  for (const path of [
    "",
    "demo",
    "demo/",
    "demo/metadata/",
    "demo/.publish.lock",
    "demo/metadata/.abc123.tmp",
    "demo/metadata/timestamp.json.tmp",
    "demo/metadata/99.root.json",
    "demo//metadata/timestamp.json",
    "nope/x.json",
    "demo/metadata/timestamp.json/x",
    "notes.txt",
    "blob",
  ]) {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get("cache-control"), "no-store", path);
    const body = await res.text();
    assert.equal(body, "404 Not Found\n", path);
    assert.ok(!body.includes(root));
  }
});

test("a file replaced or rewritten between requests is served new, with a new ETag", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  const path = join(root, "demo/metadata/timestamp.json");
  const get = async (): Promise<{ etag: string; body: string }> => {
    const res = await fetch(`${url}demo/metadata/timestamp.json`);
    return { body: await res.text(), etag: res.headers.get("etag")! };
  };
  const v1 = await get();

  // Publish style: write a temporary name, rename over (new inode).
  const v2Text = TIMESTAMP.replace('"version":1', '"version":2');
  await writeFile(`${path}.new.tmp`, v2Text);
  await rename(`${path}.new.tmp`, path);
  const v2 = await get();
  assert.equal(v2.body, v2Text);
  assert.notEqual(v2.etag, v1.etag);

  // In place, same size, mtime moved by hand.
  const v3Text = v2Text.replace('"version":2', '"version":3');
  await writeFile(path, v3Text);
  await utimes(path, new Date(), new Date(Date.now() + 5000));
  const v3 = await get();
  assert.equal(v3.body, v3Text);
  assert.notEqual(v3.etag, v2.etag);

  const old = await fetch(`${url}demo/metadata/timestamp.json`, { headers: { "if-none-match": v2.etag } });
  assert.equal(old.status, 200);
  assert.equal(await old.text(), v3Text);
});

test("a kept copy of a small file is never served after the file changes, even with its mtime restored", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const path = join(root, "demo/metadata/timestamp.json");
  const old = new Date(Date.now() - 3_600_000);
  await utimes(path, old, old);
  // Copies are only made of files whose ctime is a few seconds old.
  await new Promise((resolve) => setTimeout(resolve, 3_200));
  const { url } = await startServer(t, root);
  for (let i = 0; i < 3; i++) assert.equal(await (await fetch(`${url}demo/metadata/timestamp.json`)).text(), TIMESTAMP);

  // Same size, same mtime as before (as `cp -p` would leave it): only the ctime differs.
  const changed = TIMESTAMP.replace('"version":1', '"version":9');
  await writeFile(path, changed);
  await utimes(path, old, old);
  const res = await fetch(`${url}demo/metadata/timestamp.json`);
  assert.equal(await res.text(), changed);
});

test("newly published files are found at once", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  const missing = await fetch(`${url}demo/metadata/2.root.json`);
  assert.equal(missing.status, 404);
  await missing.text();
  await writeFile(join(root, "demo/metadata/2.root.json"), '{"root":2}\n');
  const found = await fetch(`${url}demo/metadata/2.root.json`);
  assert.equal(found.status, 200);
  assert.equal(await found.text(), '{"root":2}\n');
});

test("the query string is ignored and percent-encoded names are decoded once", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const { url } = await startServer(t, root);
  const query = await fetch(`${url}demo/metadata/timestamp.json?cache-bust=1`);
  assert.equal(await query.text(), TIMESTAMP);
  const encoded = await fetch(`${url}demo/metadata/%74imestamp.json`);
  assert.equal(await encoded.text(), TIMESTAMP);
  // Decoded once: `%2574` stands for the four characters `%74`, which name no published file.
  const once = await fetch(`${url}demo/metadata/%2574imestamp.json`);
  assert.equal(once.status, 404);
  await once.text();
});

test("close() stops the server, and listen() reports a missing root as REPO_NOT_FOUND", async (t) => {
  const root = await tempDir(t);
  await makeRepo(root);
  const server = await startServer(t, root);
  const res = await fetch(`${server.url}${PUBLISHED.timestamp}`);
  await res.text();
  await server.close();
  await assert.rejects(fetch(`${server.url}${PUBLISHED.timestamp}`));

  await assert.rejects(createRepositoryServer({ root: join(root, "missing") }).listen(), { code: "REPO_NOT_FOUND" });
  await assert.rejects(createRepositoryServer({ root: join(root, "notes.txt") }).listen(), { code: "REPO_NOT_FOUND" });
  assert.throws(() => createRepositoryServer({ root, port: 70000 }), { code: "USAGE" });
});

test("listen() on a port in use fails with USAGE", async (t) => {
  const root = await tempDir(t);
  const first = await startServer(t, root);
  await assert.rejects(createRepositoryServer({ root, port: first.port }).listen(), { code: "USAGE" });
});

test("close() drops idle keep-alive connections at once and cuts a stalled download after the grace period", async (t) => {
  const root = await tempDir(t);
  await writePublished(root, PUBLISHED.archive, Buffer.alloc(32 * 1024 * 1024, 1));
  await writePublished(root, PUBLISHED.rootV1, "small");

  const idle = createRepositoryServer({ root });
  const { url } = await idle.listen();
  const agent = new Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  await new Promise<void>((resolve, reject) =>
    get(`${url}${PUBLISHED.rootV1}`, { agent }, (res) => res.resume().on("end", resolve)).on("error", reject),
  );
  let started = Date.now();
  await idle.close();
  assert.ok(Date.now() - started < 2_000, "did not wait for the keep-alive timeout");

  const stalled = createRepositoryServer({ root, closeTimeoutMs: 200 });
  const second = await stalled.listen();
  const response = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${second.url}${PUBLISHED.archive}`, resolve).on("error", reject),
  );
  let received = 0;
  response.once("data", (chunk: Buffer) => {
    received += chunk.length;
    response.pause();
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  started = Date.now();
  await stalled.close();
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 150 && elapsed < 2_000, `closed after ${elapsed} ms`);
  // A paused response only reports the cut once read again.
  const outcome = await new Promise<string>((resolve) => {
    response.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    response.on("error", () => resolve("cut"));
    response.on("end", () => resolve("ended"));
    response.resume();
  });
  assert.ok(received < 32 * 1024 * 1024, `${outcome} after ${received} bytes: the download was not cut`);
});

/** How many of this process's descriptors are open on `path` (Linux only). */
async function openDescriptors(path: string): Promise<number> {
  const { readdir, readlink } = await import("node:fs/promises");
  let count = 0;
  for (const fd of await readdir("/proc/self/fd")) {
    try {
      if ((await readlink(`/proc/self/fd/${fd}`)) === path) count++;
    } catch {
      // Closed meanwhile.
    }
  }
  return count;
}

test("a client leaving mid-download gets its file descriptor closed", {
  skip: process.platform !== "linux",
}, async (t) => {
  const root = await tempDir(t);
  const { realpath } = await import("node:fs/promises");
  const path = await writePublished(await realpath(root), PUBLISHED.archive, Buffer.alloc(16 * 1024 * 1024, 3));
  const { url } = await startServer(t, root);
  const responses: IncomingMessage[] = [];
  for (let i = 0; i < 3; i++) {
    responses.push(
      await new Promise<IncomingMessage>((resolve, reject) =>
        get(`${url}${PUBLISHED.archive}`, resolve).on("error", reject),
      ),
    );
  }
  for (const res of responses) await new Promise((resolve) => res.once("data", resolve));
  assert.ok((await openDescriptors(path)) >= 1, "downloads in progress hold the file open");
  for (const res of responses) res.destroy();
  const deadline = Date.now() + 3_000;
  while ((await openDescriptors(path)) > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(await openDescriptors(path), 0);
});
