/**
 * The benchmark corpus: real release pairs from the npm registry used as stand-in apps, fetched
 * with `npm pack` into `.bench-cache/npm` and unpacked into `.bench-cache/trees` once.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "../../src/core/fs.js";
import { mustRun, note } from "./exec.js";

/** One release pair. */
export interface Pair {
  /** Short label for the table. */
  id: string;
  pkg: string;
  from: string;
  to: string;
  /** What the pair stands for. */
  covers: string;
}

/** The pairs `npm run bench` measures. */
export const PAIRS: readonly Pair[] = [
  { id: "esbuild", pkg: "@esbuild/linux-x64", from: "0.25.3", to: "0.25.4", covers: "a single native executable" },
  { id: "typescript", pkg: "typescript", from: "5.8.3", to: "5.9.2", covers: "minor release of a large JS bundle" },
  { id: "vite", pkg: "vite", from: "6.3.4", to: "6.3.5", covers: "content-hashed file names (dep-<hash>.js)" },
  { id: "zod", pkg: "zod", from: "3.25.75", to: "3.25.76", covers: "patch release, small many-file package" },
  { id: "next", pkg: "next", from: "16.4.5", to: "16.4.6", covers: "patch release, ~9k files, ~200 MB" },
];

/** Folder of the benchmark's cache (gitignored). */
export function cacheDir(root: string): string {
  return join(root, ".bench-cache");
}

function tarballName(pkg: string, version: string): string {
  return `${pkg.replace(/^@/, "").replace("/", "-")}-${version}.tgz`;
}

/** The unpacked `package/` folder of `pkg@version`, fetched and unpacked if needed. */
export async function packageTree(root: string, pkg: string, version: string): Promise<string> {
  const npmDir = join(cacheDir(root), "npm");
  const treeDir = join(cacheDir(root), "trees", tarballName(pkg, version).replace(/\.tgz$/, ""));
  const done = join(treeDir, ".unpacked");
  if (await exists(done)) return join(treeDir, "package");
  await mkdir(npmDir, { recursive: true });
  const tarball = join(npmDir, tarballName(pkg, version));
  if (!(await exists(tarball))) {
    note(`npm pack ${pkg}@${version}`);
    await mustRun("npm", ["pack", `${pkg}@${version}`, "--silent", "--pack-destination", npmDir]);
  }
  await rm(treeDir, { recursive: true, force: true });
  await mkdir(treeDir, { recursive: true });
  await mustRun("tar", ["xzf", tarball, "-C", treeDir, "--no-same-owner"]);
  await mustRun("touch", [done]);
  return join(treeDir, "package");
}
