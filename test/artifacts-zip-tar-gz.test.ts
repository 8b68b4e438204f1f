/**
 * The zip and tar.gz readers legacy repositories need: good archives unpack with their bytes,
 * modes and CRCs checked; every trick an attacker would try is refused with ARCHIVE_INVALID and
 * nothing is written outside the staging folder.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { readTarGz, readZip } from "../src/client/artifacts/archives.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { type RawZipEntry, rawZip } from "./helpers/raw-zip.js";
import { tempDir } from "./helpers/tmp.js";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

type TarEntry = { name: string; content?: string; mode?: number; type?: tar.Header["type"]; linkname?: string };

async function tarGz(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on("end", () => r()));
  for (const e of entries) {
    pack.entry(
      {
        name: e.name,
        mode: e.mode ?? 0o644,
        mtime: new Date(0),
        ...(e.type ? { type: e.type } : {}),
        ...(e.linkname ? { linkname: e.linkname } : {}),
      },
      e.content ?? "",
    );
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A work folder holding the archive and a `staging` folder; the rest must stay empty. */
async function setup(t: TestContext, name: string, bytes: Buffer) {
  const work = await tempDir(t);
  const archive = join(work, name);
  await writeFile(archive, bytes);
  return { work, archive, dest: join(work, "staging", "x") };
}

async function assertNothingOutside(work: string, archiveName: string): Promise<void> {
  assert.deepEqual((await readdir(work)).sort(), [archiveName, "staging"].sort());
  assert.deepEqual(await readdir(join(work, "staging")), ["x"]);
}

async function refused(
  t: TestContext,
  kind: "zip" | "tar.gz",
  bytes: Buffer,
  message: RegExp,
  limits: { maxEntries?: number; maxBytes?: number } = {},
): Promise<void> {
  const name = kind === "zip" ? "a.zip" : "a.tar.gz";
  const { work, archive, dest } = await setup(t, name, bytes);
  const read = kind === "zip" ? readZip : readTarGz;
  await assert.rejects(read(archive, { dest, ...limits }), (err: unknown) => {
    assert.ok(err instanceof UpdraftError, String(err));
    assert.equal(err.code, ErrorCodes.ARCHIVE_INVALID, err.message);
    assert.match(err.message, message);
    return true;
  });
  await assertNothingOutside(work, name);
}

test("zip: files and folders unpack with their bytes, modes and CRCs", async (t) => {
  const zip = rawZip([
    { name: "bin/", unixMode: 0o040755 },
    { name: "bin/app", data: "#!/bin/sh\necho hi\n", unixMode: 0o100755, deflate: true },
    { name: "lib/data.txt", data: "x".repeat(5000), deflate: true },
    { name: "README", data: "readme" },
  ]);
  const { archive, dest } = await setup(t, "ok.zip", zip);
  const out = await readZip(archive, { dest });
  assert.equal(out.entries, 4);
  assert.deepEqual(
    out.files.map((f) => [f.name, f.size, f.sha256, f.executable]),
    [
      ["bin/app", 18, sha("#!/bin/sh\necho hi\n"), true],
      ["lib/data.txt", 5000, sha("x".repeat(5000)), false],
      ["README", 6, sha("readme"), false],
    ],
  );
  assert.equal(await readFile(join(dest, "lib", "data.txt"), "utf8"), "x".repeat(5000));
  assert.equal((await stat(join(dest, "bin", "app"))).mode & 0o777, 0o755);
});

test("zip: select writes only the chosen files and reports the rest as skipped", async (t) => {
  const zip = rawZip([
    { name: "a.exe", data: "a" },
    { name: "usleep.exe", data: "u" },
    { name: "sub/", unixMode: 0o040755 },
    { name: "sub/b.exe", data: "b" },
  ]);
  const { archive, dest } = await setup(t, "sel.zip", zip);
  const out = await readZip(archive, { dest, select: (n) => !n.includes("/") && n !== "usleep.exe" });
  assert.deepEqual(
    out.files.map((f) => f.name),
    ["a.exe"],
  );
  assert.deepEqual(out.skipped, ["usleep.exe", "sub/b.exe"]);
  assert.deepEqual(await readdir(dest), ["a.exe"]);
});

const ZIP_ATTACKS: {
  why: string;
  entries: RawZipEntry[];
  message: RegExp;
  limits?: { maxEntries?: number; maxBytes?: number };
}[] = [
  { why: "parent traversal", entries: [{ name: "../evil", data: "x" }], message: /Unsafe entry "\.\.\/evil"/ },
  { why: "deep traversal", entries: [{ name: "a/../../evil", data: "x" }], message: /'\.\.' segment/ },
  { why: "absolute path", entries: [{ name: "/etc/evil", data: "x" }], message: /absolute/ },
  { why: "drive letter", entries: [{ name: "C:/evil", data: "x" }], message: /absolute/ },
  { why: "drive-relative", entries: [{ name: "C:evil", data: "x" }], message: /absolute/ },
  { why: "backslash traversal", entries: [{ name: "..\\..\\evil", data: "x" }], message: /backslash/ },
  { why: "UNC-looking name", entries: [{ name: "\\\\server\\share\\evil", data: "x" }], message: /backslash/ },
  {
    why: "symlink outside",
    entries: [{ name: "link", data: "../../../etc/passwd", unixMode: 0o120777 }],
    message: /symbolic link "link" points outside the folder/,
  },
  {
    why: "symlink inside",
    entries: [{ name: "link", data: "other", unixMode: 0o120777 }],
    message: /"link" is a symbolic link; only regular files and folders/,
  },
  { why: "FIFO", entries: [{ name: "pipe", unixMode: 0o010644 }], message: /device, FIFO or socket/ },
  { why: "character device", entries: [{ name: "dev", unixMode: 0o020644 }], message: /device, FIFO or socket/ },
  {
    why: "duplicate name",
    entries: [
      { name: "a.txt", data: "1" },
      { name: "a.txt", data: "2" },
    ],
    message: /"a\.txt" appears twice/,
  },
  {
    why: "case-insensitive collision",
    entries: [
      { name: "README.txt", data: "1" },
      { name: "readme.TXT", data: "2" },
    ],
    message: /collide on case-insensitive file systems/,
  },
  {
    why: "file under a file",
    entries: [
      { name: "a", data: "1" },
      { name: "a/b", data: "2" },
    ],
    message: /lies under the file "a"/,
  },
  { why: "reserved name", entries: [{ name: "aux.txt", data: "x" }], message: /reserved on Windows/ },
  { why: "reserved folder", entries: [{ name: "CON/x", data: "x" }], message: /reserved on Windows/ },
  { why: "alternate data stream", entries: [{ name: "a.txt:evil", data: "x" }], message: /':'/ },
  {
    why: "more entries than expected",
    entries: [1, 2, 3, 4].map((i) => ({ name: `f${i}`, data: "x" })),
    message: /holds 4 entries, more than the 3 expected/,
    limits: { maxEntries: 3 },
  },
  {
    why: "zip bomb (declared size over the limit)",
    entries: [{ name: "zeros", data: Buffer.alloc(2_000_000), deflate: true }],
    message: /declares 2000000 bytes, more than the 1000000 expected/,
    limits: { maxBytes: 1_000_000 },
  },
  {
    why: "zip bomb (many files adding up)",
    entries: [1, 2, 3].map((i) => ({ name: `z${i}`, data: Buffer.alloc(400_000), deflate: true })),
    message: /unpacks to more than the 1000000 bytes expected/,
    limits: { maxBytes: 1_000_000 },
  },
  { why: "wrong CRC", entries: [{ name: "a.txt", data: "hello", crc: 12345 }], message: /fails its CRC-32 check/ },
  {
    why: "local header names another file",
    entries: [{ name: "a.txt", data: "x", localName: "../b.txt" }],
    message: /another name in its local header/,
  },
  {
    why: "size lies (more bytes than declared)",
    entries: [{ name: "a.txt", data: "hello world", size: 3, deflate: true }],
    message: /a\.zip/,
  },
];

for (const c of ZIP_ATTACKS) {
  test(`zip refused: ${c.why}`, (t) => refused(t, "zip", rawZip(c.entries), c.message, c.limits));
}

test("zip refused: not a zip at all", (t) => refused(t, "zip", Buffer.from("<html>503</html>"), /not a readable zip/));

test("tar.gz: files unpack with ./ prefixes, folders and modes", async (t) => {
  const bytes = await tarGz([
    { name: "./", type: "directory" },
    { name: "./bin/", type: "directory" },
    { name: "./bin/app", content: "#!/bin/sh\n", mode: 0o755 },
    { name: "lib/data.txt", content: "data" },
  ]);
  const { archive, dest } = await setup(t, "ok.tar.gz", bytes);
  const out = await readTarGz(archive, { dest });
  assert.deepEqual(
    out.files.map((f) => [f.name, f.sha256, f.executable]),
    [
      ["bin/app", sha("#!/bin/sh\n"), true],
      ["lib/data.txt", sha("data"), false],
    ],
  );
  assert.equal(await readFile(join(dest, "lib", "data.txt"), "utf8"), "data");
});

const TAR_ATTACKS: {
  why: string;
  entries: TarEntry[];
  message: RegExp;
  limits?: { maxEntries?: number; maxBytes?: number };
}[] = [
  { why: "parent traversal", entries: [{ name: "../evil", content: "x" }], message: /Unsafe entry "\.\.\/evil"/ },
  { why: "absolute path", entries: [{ name: "/etc/evil", content: "x" }], message: /absolute/ },
  { why: "drive letter", entries: [{ name: "C:\\evil", content: "x" }], message: /backslash|absolute/ },
  { why: "backslash traversal", entries: [{ name: "a\\..\\..\\evil", content: "x" }], message: /backslash/ },
  {
    why: "symlink outside",
    entries: [{ name: "link", type: "symlink", linkname: "/etc/passwd" }],
    message: /symbolic link "link" points outside the folder/,
  },
  {
    why: "hard link outside",
    entries: [{ name: "hl", type: "link", linkname: "../../etc/shadow" }],
    message: /hard link "hl" points outside the folder/,
  },
  {
    why: "hard link inside",
    entries: [
      { name: "a", content: "x" },
      { name: "hl", type: "link", linkname: "a" },
    ],
    message: /"hl" is a hard link/,
  },
  { why: "FIFO", entries: [{ name: "p", type: "fifo" }], message: /device, FIFO or socket/ },
  { why: "character device", entries: [{ name: "d", type: "character-device" }], message: /device, FIFO or socket/ },
  { why: "block device", entries: [{ name: "d", type: "block-device" }], message: /device, FIFO or socket/ },
  {
    why: "duplicate name",
    entries: [
      { name: "a", content: "1" },
      { name: "./a", content: "2" },
    ],
    message: /"a" appears twice/,
  },
  {
    why: "case-insensitive collision",
    entries: [
      { name: "Makefile", content: "1" },
      { name: "makefile", content: "2" },
    ],
    message: /collide/,
  },
  { why: "reserved name", entries: [{ name: "lib/nul", content: "x" }], message: /reserved on Windows/ },
  { why: "alternate data stream", entries: [{ name: "file.txt:evil", content: "x" }], message: /':'/ },
  {
    why: "more entries than expected",
    entries: [1, 2, 3].map((i) => ({ name: `f${i}`, content: "x" })),
    message: /more than the 2 entries expected/,
    limits: { maxEntries: 2 },
  },
  {
    why: "more bytes than expected",
    entries: [{ name: "big", content: "y".repeat(5000) }],
    message: /declares 5000 bytes, more than the 1000 expected/,
    limits: { maxBytes: 1000 },
  },
];

for (const c of TAR_ATTACKS) {
  test(`tar.gz refused: ${c.why}`, async (t) => refused(t, "tar.gz", await tarGz(c.entries), c.message, c.limits));
}

test("tar.gz refused: a gzip bomb stops at the decompressed cap", async (t) => {
  // 50 MB of zeros inside one entry that is skipped, so only the raw stream cap can stop it.
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on("end", () => r()));
  pack.entry({ name: "zeros", mtime: new Date(0) }, Buffer.alloc(50_000_000));
  pack.finalize();
  await done;
  const bomb = gzipSync(Buffer.concat(chunks));
  assert.ok(bomb.length < 200_000, `bomb is ${bomb.length} bytes`);
  const { work, archive, dest } = await setup(t, "a.tar.gz", bomb);
  await assert.rejects(
    readTarGz(archive, { dest, maxBytes: 1_000_000, maxEntries: 10, select: () => false }),
    (err: unknown) => err instanceof UpdraftError && err.code === ErrorCodes.ARCHIVE_INVALID,
  );
  await assertNothingOutside(work, "a.tar.gz");
});

test("tar.gz refused: not gzip", (t) => refused(t, "tar.gz", Buffer.from("plain text"), /damaged/));
