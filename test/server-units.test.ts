/** Pure parts of the repository server: request paths, ranges, validators, cache rules, copies. */
import assert from "node:assert/strict";
import type { BigIntStats } from "node:fs";
import { test } from "node:test";
import { CACHE_IMMUTABLE, CACHE_MUTABLE } from "../src/formats/served-paths.js";
import { parseByteRange } from "../src/server/byte-range.js";
import { parseRequestPath } from "../src/server/request-path.js";
import { cacheControlFor, contentTypeFor } from "../src/server/response-headers.js";
import { SmallFileCache } from "../src/server/small-file-cache.js";
import { ifNoneMatchMatches, ifRangeMatches, isNotModified, makeEtag, validatorsOf } from "../src/server/validators.js";

const HASH = "0f".repeat(32);

test("parseRequestPath accepts plain paths and refuses traversal, separators and drive letters", () => {
  assert.deepEqual(parseRequestPath("/demo/metadata/1.root.json?x=1#y"), {
    kind: "file",
    relPath: "demo/metadata/1.root.json",
    segments: ["demo", "metadata", "1.root.json"],
    served: { app: "demo", kind: "metadata", immutable: true },
  });
  const relPathOf = (url: string): string | undefined => (parseRequestPath(url) as { relPath?: string }).relPath;
  assert.equal(relPathOf("http://host:8080/demo/metadata/timestamp.json"), "demo/metadata/timestamp.json");
  assert.equal(relPathOf("/demo/metadata/%74imestamp.json"), "demo/metadata/timestamp.json");
  // Decoded once, and names a repository does not publish are not found.
  assert.deepEqual(parseRequestPath("/demo/metadata/%2574imestamp.json"), { kind: "not-found" });
  for (const unpublished of ["/notes.txt", "/updraft-keys/root.key", "/demo/metadata/root.key", "/demo/build/app.js"]) {
    assert.deepEqual(parseRequestPath(unpublished), { kind: "not-found" }, unpublished);
  }
  for (const bad of [
    "/..",
    "/../x",
    "/a/../b",
    "/./a",
    "/%2e%2e/x",
    "/a%2fb",
    "/a%2Fb",
    "/a%5cb",
    "/a\\b",
    "/a%00",
    "//etc/passwd",
    "/C:/x",
    "/a:b",
    "/%E0%A4%A",
    "x",
    "*",
    "/con/x",
  ]) {
    assert.equal(parseRequestPath(bad).kind, "bad-request", bad);
  }
  for (const hidden of ["/", "/a/", "/a//b", "/.publish.lock", "/a/.git/config", "/a/b.tmp", "/a/B.TMP", "/a/.x.tmp"]) {
    assert.equal(parseRequestPath(hidden).kind, "not-found", hidden);
  }
});

test("parseByteRange: single ranges, suffixes, clamping, unsatisfiable and ignored forms", () => {
  assert.deepEqual(parseByteRange("bytes=0-9", 100), { start: 0, end: 9 });
  assert.deepEqual(parseByteRange("bytes=90-", 100), { start: 90, end: 99 });
  assert.deepEqual(parseByteRange("bytes=-10", 100), { start: 90, end: 99 });
  assert.deepEqual(parseByteRange("bytes=-1000", 100), { start: 0, end: 99 });
  assert.deepEqual(parseByteRange("bytes=50-1000", 100), { start: 50, end: 99 });
  assert.deepEqual(parseByteRange("Bytes=1-1", 100), { start: 1, end: 1 });
  assert.equal(parseByteRange("bytes=100-", 100), "unsatisfiable");
  assert.equal(parseByteRange("bytes=-0", 100), "unsatisfiable");
  assert.equal(parseByteRange("bytes=0-", 0), "unsatisfiable");
  assert.equal(parseByteRange("bytes=-5", 0), "unsatisfiable");
  for (const ignored of ["bytes=5-1", "bytes=0-1,3-4", "bytes=", "bytes=-", "bytes=x-1", "lines=1-2", "1-2"]) {
    assert.equal(parseByteRange(ignored, 100), "ignore", ignored);
  }
});

function fakeStats(fields: { size?: bigint; mtimeNs?: bigint; ctimeNs?: bigint; ino?: bigint; dev?: bigint }) {
  const mtimeNs = fields.mtimeNs ?? 1_700_000_000_123_456_789n;
  return {
    dev: fields.dev ?? 1n,
    ino: fields.ino ?? 42n,
    size: fields.size ?? 5n,
    mtimeNs,
    mtimeMs: mtimeNs / 1_000_000n,
    ctimeNs: fields.ctimeNs ?? mtimeNs,
  } as unknown as BigIntStats;
}

test("ETags are strong, hex, and change with size, mtime or inode", () => {
  const base = fakeStats({});
  assert.equal(makeEtag(base), `"5-${(1_700_000_000_123_456_789n).toString(16)}-2a"`);
  assert.notEqual(makeEtag(fakeStats({ size: 6n })), makeEtag(base));
  assert.notEqual(makeEtag(fakeStats({ mtimeNs: 1_700_000_000_123_456_790n })), makeEtag(base));
  assert.notEqual(makeEtag(fakeStats({ ino: 43n })), makeEtag(base));
});

test("conditional headers: If-None-Match lists and weak tags, If-Modified-Since, If-Range", () => {
  const etag = '"1-2-3"';
  assert.ok(ifNoneMatchMatches(etag, etag));
  assert.ok(ifNoneMatchMatches(` "a" ,W/${etag}`, etag));
  assert.ok(ifNoneMatchMatches("*", etag));
  assert.ok(!ifNoneMatchMatches('"1-2-4"', etag));
  const mtimeMs = Date.parse("2026-01-02T03:04:05.678Z");
  const date = new Date(mtimeMs).toUTCString();
  assert.ok(isNotModified(undefined, date, etag, mtimeMs));
  assert.ok(!isNotModified(undefined, new Date(mtimeMs - 1000).toUTCString(), etag, mtimeMs));
  assert.ok(!isNotModified('"other"', date, etag, mtimeMs));
  assert.ok(!isNotModified(undefined, undefined, etag, mtimeMs));
  assert.ok(ifRangeMatches(etag, etag, mtimeMs));
  assert.ok(ifRangeMatches(date, etag, mtimeMs));
  assert.ok(!ifRangeMatches(`W/${etag}`, etag, mtimeMs));
  assert.ok(!ifRangeMatches('"x"', etag, mtimeMs));
  assert.ok(!ifRangeMatches(new Date(mtimeMs + 1000).toUTCString(), etag, mtimeMs));
});

test("Cache-Control follows the repository layout", () => {
  const cc = (path: string): string => cacheControlFor(path.split("/"));
  assert.equal(cc("demo/metadata/timestamp.json"), CACHE_MUTABLE);
  assert.equal(cc("demo/metadata/root.json"), CACHE_MUTABLE);
  assert.equal(cc("demo/metadata/12.root.json"), CACHE_IMMUTABLE);
  assert.equal(cc("demo/metadata/7.targets.json"), CACHE_IMMUTABLE);
  assert.equal(cc("demo/metadata/7.snapshot.json"), CACHE_IMMUTABLE);
  assert.equal(cc(`demo/targets/releases/1.0.0/${HASH}.manifest.json`), CACHE_IMMUTABLE);
  assert.equal(cc(`demo/targets/channels/${HASH}.stable.json`), CACHE_IMMUTABLE);
  assert.equal(cc("demo/targets/channels/stable.json"), CACHE_MUTABLE);
  assert.equal(cc("timestamp.json"), CACHE_MUTABLE);
  assert.equal(cc("index.html"), CACHE_MUTABLE);
  assert.equal(cc(`${HASH}.x`), CACHE_MUTABLE);
});

test("Content-Type: json, zstd, known types and a binary fallback", () => {
  assert.equal(contentTypeFor("1.root.json"), "application/json");
  assert.equal(contentTypeFor("a-1.0.0.tar.zst"), "application/zstd");
  assert.equal(contentTypeFor("notes.txt"), "text/plain; charset=utf-8");
  assert.equal(contentTypeFor("blob"), "application/octet-stream");
  assert.equal(contentTypeFor("x.unknownext"), "application/octet-stream");
});

test("SmallFileCache keeps settled files only, and only for the same identity", () => {
  const cache = new SmallFileCache({ maxFileBytes: 10, maxTotalBytes: 12 });
  const oldNs = (BigInt(Date.now()) - 60_000n) * 1_000_000n;
  const settled = fakeStats({ mtimeNs: oldNs, ctimeNs: oldNs });
  const body = Buffer.from("hello");
  cache.set(settled, body, validatorsOf(settled));
  assert.equal(cache.get(settled)?.body, body);
  assert.equal(cache.get(fakeStats({ mtimeNs: oldNs, ctimeNs: oldNs + 1n })), undefined, "ctime changed");
  assert.equal(cache.get(settled), undefined, "dropped once seen stale");

  const fresh = fakeStats({ ino: 7n, mtimeNs: oldNs, ctimeNs: BigInt(Date.now()) * 1_000_000n });
  cache.set(fresh, body, validatorsOf(fresh));
  assert.equal(cache.get(fresh), undefined, "changed seconds ago: not kept");

  const other = fakeStats({ ino: 8n, mtimeNs: oldNs, ctimeNs: oldNs });
  cache.set(other, Buffer.from("abcd"), validatorsOf(other));
  assert.equal(cache.get(fakeStats({ ino: 8n, dev: 2n, mtimeNs: oldNs, ctimeNs: oldNs })), undefined, "other device");
  cache.set(other, Buffer.from("abcd"), validatorsOf(other));
  cache.set(settled, body, validatorsOf(settled));
  const third = fakeStats({ ino: 9n, mtimeNs: oldNs, ctimeNs: oldNs });
  cache.set(third, Buffer.from("12345"), validatorsOf(third));
  assert.equal(cache.get(other), undefined, "oldest evicted over the byte limit");
  assert.ok(cache.get(third));
  const big = fakeStats({ ino: 10n, size: 11n, mtimeNs: oldNs, ctimeNs: oldNs });
  cache.set(big, Buffer.alloc(11), validatorsOf(big));
  assert.equal(cache.get(big), undefined, "too big");
  const short = fakeStats({ ino: 11n, size: 5n, mtimeNs: oldNs, ctimeNs: oldNs });
  cache.set(short, Buffer.from("abc"), validatorsOf(short));
  assert.equal(cache.get(short), undefined, "length differs from stat");
});
