/**
 * The publisher's speed measures keep releases exact: the archive (one zstd frame with its content
 * size, written from the publisher's own tar encoding, byte for byte tar-stream's) stays
 * deterministic and installs byte for byte through the client's reader, incompressible files
 * included; deltas that cannot win are given up; a publish of 20,000 small files completes and installs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import tar from "tar-stream";
import { extractRelease } from "../src/client/artifacts/tar-zst.js";
import { publishRelease, scanBuild, writeArchive } from "../src/publish/index.js";
import { encodeTarHeader, TAR_END, type TarEntryHeader, tarPadding } from "../src/publish/tar-encode.js";
import {
  createTestRepo,
  manifestDigest,
  signedManifest,
  targetFilePath,
  treeDigest,
  writeBuild,
} from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { pseudoText } from "./helpers/trees.js";

/** The frames of a zstd stream: compressed size and, when recorded, content size (RFC 8878). */
function zstdFrames(stream: Buffer): { compressed: number; content: number | undefined }[] {
  const frames: { compressed: number; content: number | undefined }[] = [];
  let at = 0;
  while (at < stream.length) {
    const start = at;
    assert.equal(stream.readUInt32LE(at), 0xfd2fb528, `a zstd frame starts at ${at}`);
    const descriptor = stream[at + 4]!;
    at += 5;
    const singleSegment = (descriptor >> 5) & 1;
    const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
    if (!singleSegment) at += 1;
    at += [0, 1, 2, 4][descriptor & 3]!;
    let content: number | undefined;
    if (contentSizeBytes === 1) content = stream[at]!;
    if (contentSizeBytes === 2) content = stream.readUInt16LE(at) + 256;
    if (contentSizeBytes === 4) content = stream.readUInt32LE(at);
    if (contentSizeBytes === 8) content = Number(stream.readBigUInt64LE(at));
    at += contentSizeBytes;
    for (let last = 0; !last; ) {
      const header = stream.readUIntLE(at, 3);
      last = header & 1;
      const type = (header >> 1) & 3;
      at += 3 + (type === 1 ? 1 : header >> 3);
    }
    if ((descriptor >> 2) & 1) at += 4;
    frames.push({ compressed: at - start, content });
  }
  return frames;
}

/** A build whose middle holds a large file of random bytes between compressible ones. */
async function mixedBuild(dir: string, noise: Buffer): Promise<string> {
  return writeBuild(dir, {
    "a/first.js": pseudoText(3000, 1),
    "b/noise.bin": noise,
    "c/last.js": pseudoText(3000, 2),
    "c/run.sh": "#!/bin/sh\necho hi\n",
  });
}

test("tar headers are byte for byte tar-stream's: short, prefixed, non-ASCII and long names, long link targets", async () => {
  const headers: TarEntryHeader[] = [
    { name: "a.txt", type: "file", mode: 0o644, size: 5 },
    { name: `${"d/".repeat(60)}file.js`, type: "file", mode: 0o755, size: 700 },
    { name: "naïve/résumé.txt", type: "file", mode: 0o644, size: 1 },
    { name: `${"x".repeat(120)}/${"y".repeat(120)}`, type: "file", mode: 0o644, size: 0 },
    { name: "link", type: "symlink", mode: 0o755, size: 0, linkname: `${"t/".repeat(70)}target` },
    { name: "near", type: "symlink", mode: 0o755, size: 0, linkname: "a.txt" },
  ];
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (chunk) => chunks.push(chunk as Buffer));
  const ours: Buffer[] = [];
  for (const h of headers) {
    const data = Buffer.alloc(h.size, 0x61);
    const common = { name: h.name, mode: h.mode, mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "" };
    if (h.type === "symlink") pack.entry({ ...common, type: "symlink", linkname: h.linkname! });
    else pack.entry({ ...common, type: "file", size: h.size }, data);
    ours.push(encodeTarHeader(h), data, tarPadding(h.size));
  }
  pack.finalize();
  await new Promise<void>((resolve) => pack.on("end", () => resolve()));
  assert.deepEqual(Buffer.concat([...ours, TAR_END]), Buffer.concat(chunks));
});

test("the archive is one frame of content, the same bytes for the same tree, with an incompressible file", async (t) => {
  const dir = await tempDir(t);
  const noise = randomBytes(3 * 1024 * 1024);
  const a = join(dir, "a.tar.zst");
  const b = join(dir, "b.tar.zst");
  const info = await writeArchive(await scanBuild(await mixedBuild(join(dir, "build"), noise)), a);
  await writeArchive(await scanBuild(await mixedBuild(join(dir, "copy"), noise)), b);
  const bytes = await readFile(a);
  assert.deepEqual(await readFile(b), bytes, "same tree elsewhere: same bytes");
  assert.equal(info.size, bytes.length);
  const frames = zstdFrames(bytes);
  // node:zlib ends every stream with an empty frame; all content must be in the first one, since
  // clients' streaming decoders lose or refuse what follows a frame's end mid-chunk.
  assert.ok(frames.length >= 1 && frames.slice(1).every((f) => f.content === 0), JSON.stringify(frames));
  assert.ok(zstdDecompressSync(bytes).length > noise.length);
  assert.ok(bytes.length < noise.length + 100_000, "the noise is stored, not expanded");
});

test("an archive holding an incompressible file installs exactly through the client's reader", async (t) => {
  const dir = await tempDir(t);
  const repo = await createTestRepo(dir, "app");
  const build = await mixedBuild(join(dir, "build"), randomBytes(2 * 1024 * 1024 + 77));
  await publishRelease({ repoDir: repo.repoDir, app: "app", version: "1.0.0", buildDir: build, keys: repo.keys });
  const manifest = await signedManifest(repo, "1.0.0");
  const archive = await targetFilePath(repo, manifest.artifacts[0]!.target);
  const dest = join(dir, "installed");
  const stats = await extractRelease(archive, manifest, dest);
  assert.equal(stats.written, manifest.files.length);
  assert.deepEqual(await treeDigest(dest), manifestDigest(manifest));
});

test("a delta that cannot beat the full archive is given up; one that can is built", async (t) => {
  const dir = await tempDir(t);
  const repo = await createTestRepo(dir, "app");
  const common = { repoDir: repo.repoDir, app: "app", keys: repo.keys, level: 3 };
  const v1 = await writeBuild(join(dir, "v1"), { "data.bin": randomBytes(1024 * 1024), "a.js": pseudoText(500, 1) });
  await publishRelease({ ...common, version: "1.0.0", buildDir: v1 });
  const v2 = await writeBuild(join(dir, "v2"), { "data.bin": randomBytes(1024 * 1024), "a.js": pseudoText(500, 1) });
  const unrelated = await publishRelease({ ...common, version: "1.0.1", buildDir: v2 });
  assert.deepEqual(unrelated.deltas.deltas, []);
  assert.equal(unrelated.deltas.skipped.length, 2, JSON.stringify(unrelated.deltas.skipped));
  assert.ok(unrelated.deltas.skipped.some((s) => /cannot beat the full archive/.test(s.reason)));

  const v3 = await writeBuild(join(dir, "v3"), {
    "data.bin": await readFile(join(v2, "data.bin")),
    "a.js": "changed\n",
  });
  const patch = await publishRelease({ ...common, version: "1.0.2", buildDir: v3, deltas: 1 });
  assert.ok(patch.deltas.deltas.length >= 1, "a delta from the one base");
  for (const s of patch.deltas.skipped) assert.match(s.reason, /estimated at \d+ bytes against \d+ for delta-/);
});

test("a publish of 20,000 small files completes, lists them all, and its archive installs exactly", async (t) => {
  const dir = await tempDir(t);
  const repo = await createTestRepo(dir, "app");
  const files: Record<string, string> = {};
  for (let i = 0; i < 20_000; i++) files[`d${i % 200}/f${i}.txt`] = `${i}\n`;
  const build = await writeBuild(join(dir, "build"), files);
  const result = await publishRelease({
    repoDir: repo.repoDir,
    app: "app",
    version: "1.0.0",
    buildDir: build,
    keys: repo.keys,
  });
  assert.equal(result.fileCount, 20_000 + 2, "the build's files and the two embedded ones");
  const manifest = await signedManifest(repo, "1.0.0");
  assert.equal(manifest.files.length, 20_002);
  // Mostly tar headers: packed with a shallower zstd search, still one frame the client reads.
  const archive = await targetFilePath(repo, manifest.artifacts[0]!.target);
  const frames = zstdFrames(await readFile(archive));
  assert.ok(
    frames.slice(1).every((f) => f.content === 0),
    JSON.stringify(frames),
  );
  const dest = join(dir, "installed");
  assert.equal((await extractRelease(archive, manifest, dest)).written, 20_002);
  assert.deepEqual(await treeDigest(dest), manifestDigest(manifest));
});
