/**
 * Path rules under Windows semantics (`path.win32`, pure, so they run here): containment under
 * drive-letter and UNC roots, names Windows cannot hold, case-insensitive collisions, and the
 * `\\?\` form for paths beyond MAX_PATH.
 */
import assert from "node:assert/strict";
import { win32 } from "node:path";
import { test } from "node:test";
import { isUpdraftError } from "../src/core/errors.js";
import { assertSafeRelativePath, safeJoinWith, WINDOWS_MAX_PATH, windowsLongPath } from "../src/core/fs.js";
import { parseReleaseManifest } from "../src/formats/native.js";

const ROOTS = ["C:\\Program Files\\Demo", "c:/Users/ana/AppData/Local/Demo", "\\\\server\\share\\apps\\Demo"];

test("a release path joins under drive-letter and UNC roots and never leaves them", () => {
  for (const root of ROOTS) {
    const joined = safeJoinWith(win32, root, "bin/app.exe");
    assert.equal(joined, win32.join(win32.normalize(root), "bin", "app.exe"), root);
    assert.ok(joined.toLowerCase().startsWith(win32.normalize(root).toLowerCase()), root);
    for (const outside of [
      "../x.exe",
      "bin/../../x.exe",
      "C:/Windows/x.exe",
      "C:x.exe",
      "\\\\evil\\share\\x",
      "bin\\..\\..\\x",
    ]) {
      assert.throws(
        () => safeJoinWith(win32, root, outside),
        (e) => isUpdraftError(e, "ARCHIVE_INVALID"),
        `${root} + ${outside}`,
      );
    }
  }
});

test("names Windows cannot hold are refused before anything is written", () => {
  const refused = [
    "CON",
    "con.txt",
    "lib/NUL.dll",
    "aux",
    "COM1.log",
    "lpt9",
    "COM¹",
    "data/file.txt:stream",
    "a<b",
    "a|b",
    "what?.txt",
    "star*.txt",
    'quote".txt',
    "trailing.",
    "trailing ",
    "tab\there",
  ];
  for (const name of refused) {
    assert.throws(
      () => assertSafeRelativePath(name),
      (e) => isUpdraftError(e, "ARCHIVE_INVALID"),
      name,
    );
  }
  for (const name of ["CONFIG.txt", "console.log", "com10.txt", "lib/auxiliary.js", "a.b.c", "über.txt"]) {
    assert.equal(assertSafeRelativePath(name), name);
  }
});

test("two paths that differ only in case (or Unicode form) are one file on Windows: the manifest is refused", () => {
  const entry = (path: string) => ({ path, size: 1, sha256: "a".repeat(64), mode: 0o644 });
  const manifest = (paths: string[]) =>
    JSON.stringify({
      schema: 1,
      app: "demo",
      version: "1.0.0",
      channel: "stable",
      files: paths.map(entry),
      symlinks: [],
      artifacts: [],
    });
  for (const pair of [
    ["App.exe", "app.exe"],
    ["lib/Data.bin", "LIB/data.bin"],
    ["caf\u00e9.txt", "cafe\u0301.txt"],
  ]) {
    assert.throws(() => parseReleaseManifest(manifest(pair)), /collide|case|same/i, pair.join(" / "));
  }
});

test("paths beyond MAX_PATH get the \\\\?\\ form (UNC as \\\\?\\UNC\\), shorter ones stay as they are", () => {
  assert.equal(windowsLongPath("C:\\Apps\\Demo\\current"), "C:\\Apps\\Demo\\current");
  assert.equal(windowsLongPath("C:/Apps/Demo"), "C:\\Apps\\Demo");
  const deep = `C:\\Users\\ana\\${"d".repeat(120)}\\${"e".repeat(120)}\\app.exe`;
  assert.ok(deep.length > WINDOWS_MAX_PATH);
  assert.equal(windowsLongPath(deep), `\\\\?\\${deep}`);
  const share = `\\\\server\\share\\${"f".repeat(250)}`;
  assert.equal(windowsLongPath(share), `\\\\?\\UNC\\server\\share\\${"f".repeat(250)}`);
  assert.equal(windowsLongPath(`\\\\?\\${deep}`), `\\\\?\\${deep}`, "already in that form");
  for (const relative of ["Demo\\app.exe", "\\Apps\\Demo", "C:relative"]) {
    assert.throws(
      () => windowsLongPath(relative),
      (e) => isUpdraftError(e, "USAGE"),
      relative,
    );
  }
});
