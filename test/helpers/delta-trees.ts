/**
 * Generated release pairs for delta tests: a tree and its next version with every kind of change
 * (added, removed, renamed with a content-hashed name, changed, executable bit changed, empty,
 * large, a binary with scattered byte changes that bsdiff handles well), plus an install folder
 * holding the old version as the client would have it.
 */
import { cp, mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { type InstallLayout, installLayout } from "../../src/client/install/layout.js";
import type { ReleaseManifest } from "../../src/formats/native.js";
import type { SourceFile } from "../../src/publish/delta/sources.js";
import { scanBuild } from "../../src/publish/pack.js";
import { pseudoRandom, pseudoText, writeTree } from "./trees.js";

/** A pseudo executable and the next build of it: every 97th byte shifted, as when addresses move. */
function binaryPair(size: number): [Buffer, Buffer] {
  const old = pseudoRandom(size, 7);
  const neu = Buffer.from(old);
  for (let i = 0; i < neu.length; i += 97) neu[i] = (neu[i]! + 1) & 0xff;
  return [old, neu];
}

/** The two builds of a release pair with every kind of change. */
export async function writeReleasePair(
  dir: string,
  largeBytes = 1_500_000,
): Promise<{ oldDir: string; newDir: string }> {
  const [binOld, binNew] = binaryPair(200_000);
  const large = pseudoRandom(largeBytes, 3);
  const largeNew = Buffer.concat([large.subarray(0, 400_000), Buffer.from("inserted"), large.subarray(400_000)]);
  largeNew.write("patched", largeNew.length - 100_000);
  const editor = pseudoText(3000, 11);
  const oldDir = await writeTree(join(dir, "old"), {
    "same.txt": { data: "unchanged\n" },
    "changed.js": { data: pseudoText(2000, 5) },
    "removed.txt": { data: "gone in the next release\n" },
    "assets/editor-ECyZhXSU.js": { data: editor },
    "moved/a.txt": { data: "moved without a change\n" },
    "bin/tool": { data: binOld, mode: 0o755 },
    "script.sh": { data: "echo hello\n" },
    "empty.txt": { data: "" },
    "data/large.bin": { data: large },
  });
  const newDir = await writeTree(join(dir, "new"), {
    "same.txt": { data: "unchanged\n" },
    "changed.js": { data: pseudoText(2000, 5).replace("// 100\n", "// one hundred\n") },
    "assets/editor-CLplJsAh.js": { data: editor.replace("// 7\n", "// seven\n") },
    "elsewhere/a.txt": { data: "moved without a change\n" },
    "bin/tool": { data: binNew, mode: 0o755 },
    "script.sh": { data: "echo hello\n", mode: 0o755 },
    "empty.txt": { data: "" },
    "new-empty.txt": { data: "" },
    "added.txt": { data: pseudoText(50, 9) },
    "copy-of-same.txt": { data: "unchanged\n" },
    "data/large.bin": { data: largeNew },
  });
  await symlink("same.txt", join(newDir, "link"));
  return { oldDir, newDir };
}

/** A manifest (with its files' sources) for a build folder. */
export async function manifestOf(
  buildDir: string,
  version: string,
): Promise<{ manifest: ReleaseManifest; sources: SourceFile[] }> {
  const contents = await scanBuild(buildDir);
  const files = contents.files.map(({ path, size, sha256, mode }) => ({ path, size, sha256, mode }));
  return {
    manifest: {
      schema: 1,
      app: "delta",
      version,
      channel: "stable",
      releasedAt: "2026-01-01T00:00:00Z",
      files,
      symlinks: contents.symlinks,
      artifacts: [],
    },
    sources: contents.files.map((f) => ({ ...files.find((x) => x.path === f.path)!, absolutePath: f.sourcePath! })),
  };
}

/** An install folder with `oldDir` installed as `version` (a copy, as the client would hold it). */
export async function installedCopy(dir: string, oldDir: string, version: string): Promise<InstallLayout> {
  const layout = installLayout(join(dir, "install"));
  await mkdir(layout.stateDir, { recursive: true });
  await cp(oldDir, layout.versionDir(version), { recursive: true, verbatimSymlinks: true });
  return layout;
}
