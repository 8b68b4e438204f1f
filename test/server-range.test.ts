/** The repository server: single byte ranges, 416, If-Range, multiple ranges. */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { PUBLISHED, rawGet, startServer, writePublished } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";

/** 300 KiB of distinct bytes: large enough to be streamed, not read whole. */
const BIG = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
const SMALL = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyz");
const BIG_NAME = PUBLISHED.archive;
const SMALL_NAME = PUBLISHED.rootV1;
const EMPTY_NAME = PUBLISHED.snapshotV1;

async function serve(t: TestContext): Promise<{ url: string; port: number }> {
  const root = await tempDir(t);
  await writePublished(root, BIG_NAME, BIG);
  await writePublished(root, SMALL_NAME, SMALL);
  await writePublished(root, EMPTY_NAME, "");
  return startServer(t, root);
}

async function getRange(url: string, range: string, extra: Record<string, string> = {}) {
  const res = await fetch(url, { headers: { range, ...extra } });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

for (const [name, file] of [
  [SMALL_NAME, SMALL],
  [BIG_NAME, BIG],
] as const) {
  test(`${name}: Range answers 206 with the exact bytes and Content-Range`, async (t) => {
    const { url } = await serve(t);
    const size = file.length;
    const cases: [string, number, number][] = [
      ["bytes=0-9", 0, 9],
      ["bytes=5-", 5, size - 1],
      ["bytes=-10", size - 10, size - 1],
      [`bytes=3-${size + 1000}`, 3, size - 1],
      [`bytes=-${size + 50}`, 0, size - 1],
      [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
      ["bytes = 1 - 2", 1, 2],
    ];
    for (const [range, start, end] of cases) {
      const { res, body } = await getRange(`${url}${name}`, range);
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/${size}`, range);
      assert.equal(res.headers.get("content-length"), String(end - start + 1), range);
      assert.ok(body.equals(file.subarray(start, end + 1)), range);
    }
  });

  test(`${name}: unsatisfiable ranges answer 416 with bytes */size`, async (t) => {
    const { url } = await serve(t);
    for (const range of [`bytes=${file.length}-`, `bytes=${file.length + 10}-${file.length + 20}`, "bytes=-0"]) {
      const { res, body } = await getRange(`${url}${name}`, range);
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get("content-range"), `bytes */${file.length}`);
      assert.equal(body.length, 0);
    }
  });
}

test("an empty file: no range is satisfiable, a plain GET is 200 with length 0", async (t) => {
  const { url } = await serve(t);
  const { res } = await getRange(`${url}${EMPTY_NAME}`, "bytes=0-");
  assert.equal(res.status, 416);
  assert.equal(res.headers.get("content-range"), "bytes */0");
  const plain = await fetch(`${url}${EMPTY_NAME}`);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("content-length"), "0");
  assert.equal((await plain.arrayBuffer()).byteLength, 0);
});

test("malformed ranges, other units and multiple ranges get the whole file with 200", async (t) => {
  const { url } = await serve(t);
  for (const range of [
    "bytes=abc",
    "bytes=5-2",
    "items=0-5",
    "bytes=",
    "bytes=-",
    "0-5",
    "bytes=0-1,5-6",
    "bytes=0-1,-5",
  ]) {
    const { res, body } = await getRange(`${url}${BIG_NAME}`, range);
    assert.equal(res.status, 200, range);
    assert.equal(res.headers.get("content-range"), null, range);
    assert.ok(body.equals(BIG), range);
  }
});

test("If-Range: a matching ETag or date applies the Range; a stale or weak one sends the whole file", async (t) => {
  const { url } = await serve(t);
  const head = await fetch(`${url}${BIG_NAME}`, { method: "HEAD" });
  const etag = head.headers.get("etag")!;
  const lastModified = head.headers.get("last-modified")!;

  for (const ifRange of [etag, lastModified]) {
    const { res, body } = await getRange(`${url}${BIG_NAME}`, "bytes=100-199", { "if-range": ifRange });
    assert.equal(res.status, 206, ifRange);
    assert.ok(body.equals(BIG.subarray(100, 200)));
  }
  const stale = ['"0-0-0"', `W/${etag}`, new Date(Date.parse(lastModified) - 10_000).toUTCString(), "garbage"];
  for (const ifRange of stale) {
    const { res, body } = await getRange(`${url}${BIG_NAME}`, "bytes=100-199", { "if-range": ifRange });
    assert.equal(res.status, 200, ifRange);
    assert.ok(body.equals(BIG), ifRange);
  }
});

test("If-None-Match beats Range: a current copy gets 304", async (t) => {
  const { url } = await serve(t);
  const etag = (await fetch(`${url}${BIG_NAME}`, { method: "HEAD" })).headers.get("etag")!;
  const { res } = await getRange(`${url}${BIG_NAME}`, "bytes=0-9", { "if-none-match": etag });
  assert.equal(res.status, 304);
});

test("a download resumed with Range after a cut gives the file back exactly", async (t) => {
  const { url, port } = await serve(t);
  // Read part of the file, then drop the connection.
  const first = await fetch(`${url}${BIG_NAME}`);
  const reader = first.body!.getReader();
  const got: Buffer[] = [];
  let have = 0;
  while (have < 1000) {
    const { value, done } = await reader.read();
    if (done) break;
    got.push(Buffer.from(value));
    have += value.length;
  }
  await reader.cancel();
  const etag = first.headers.get("etag")!;
  const rest = await rawGet(port, `/${BIG_NAME}`, `Range: bytes=${have}-\r\nIf-Range: ${etag}\r\n`);
  assert.equal(rest.status, 206);
  assert.ok(Buffer.concat([...got, rest.body]).equals(BIG));
});
