/** Fast path joins for the thousands of files of a delta install. */
import { join, sep } from "node:path";

/**
 * `root` + a manifest path. Manifest paths were checked by `parseReleaseManifest` (relative, no
 * `..`, no backslashes: see `assertSafeRelativePath`), so they cannot leave `root`; this skips
 * re-checking them for every file, which costs more than the file operation itself.
 */
export function underRoot(root: string, manifestPath: string): string {
  return sep === "/" ? `${root}/${manifestPath}` : join(root, manifestPath);
}
