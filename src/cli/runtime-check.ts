/**
 * The Node versions Updraft runs on, checked by the `updraft` launcher before anything else is
 * loaded. This file must stay parseable by old Node releases (nothing newer than Node 12: no
 * `?.`, `??`, top-level await or imports), so that an old Node prints which version it needs
 * instead of a SyntaxError.
 */

/** The supported range, as in package.json `engines`. */
export const SUPPORTED_NODE = "^22.22.2 || ^24.15.0 || >=26";

/** True when `version` (`22.22.2`, `v24.15.0`) is in {@link SUPPORTED_NODE}. */
export function nodeSupported(version: string): boolean {
  const parts = version.replace(/^v/, "").split(".").map(Number);
  const major = parts[0] || 0;
  const minor = parts[1] || 0;
  const patch = parts[2] || 0;
  if (major === 22) return minor > 22 || (minor === 22 && patch >= 2);
  if (major === 24) return minor >= 15;
  return major >= 26;
}

/** True when the command line asks for `--json` (before any `--`). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).indexOf("--json") >= 0;
}
