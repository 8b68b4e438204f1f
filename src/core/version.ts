/**
 * One ordering for every version Updraft sees: semver (`1.2.3-beta.1`) and dotted numeric
 * (`10.0.2.0`, as SAAU labels use). Two versions of different styles are still ordered, by
 * their numeric parts first.
 */
import semver from "semver";
import { ErrorCodes, UpdraftError } from "./errors.js";

const DOTTED = /^\d{1,9}(\.\d{1,9}){0,5}$/;

/**
 * True if `text` is a version Updraft can order: semver without a leading `v`, spaces or build
 * metadata (`1.2.3`, `1.2.3-beta.1`), or one to six dotted numbers (`10`, `10.0.2.0`).
 */
export function isValidVersion(text: string): boolean {
  return DOTTED.test(text) || semver.valid(text, { loose: false }) === text;
}

/** Throws `VERSION_INVALID` unless `text` is a valid version; returns it trimmed. */
export function assertVersion(text: string, what = "version"): string {
  const trimmed = text.trim();
  if (!isValidVersion(trimmed)) {
    throw new UpdraftError(
      ErrorCodes.VERSION_INVALID,
      `Invalid ${what} "${text}": use semver (1.2.3, 1.2.3-beta.1) or dotted numbers (10.0.2.0)`,
    );
  }
  return trimmed;
}

interface ParsedVersion {
  numbers: number[];
  prerelease: readonly (string | number)[];
}

function parse(text: string): ParsedVersion {
  const v = assertVersion(text);
  if (DOTTED.test(v)) return { numbers: v.split(".").map(Number), prerelease: [] };
  const sv = semver.parse(v)!;
  return { numbers: [sv.major, sv.minor, sv.patch], prerelease: sv.prerelease };
}

/**
 * Compares two versions: negative if `a < b`, 0 if equal, positive if `a > b`.
 * Missing numeric parts count as 0 (`1.2` equals `1.2.0.0`); a prerelease sorts before its release.
 * Use it to sort: `versions.sort(compareVersions)`.
 *
 * @throws {@link UpdraftError} with code `VERSION_INVALID` when `a` or `b` is not a valid version (see {@link isValidVersion}).
 */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  const len = Math.max(pa.numbers.length, pb.numbers.length);
  for (let i = 0; i < len; i++) {
    const d = (pa.numbers[i] ?? 0) - (pb.numbers[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (pa.prerelease.length === 0 || pb.prerelease.length === 0) {
    return Math.sign(pb.prerelease.length - pa.prerelease.length);
  }
  return semver.compare(`0.0.0-${pa.prerelease.join(".")}`, `0.0.0-${pb.prerelease.join(".")}`);
}

/** The highest of `versions`, or undefined for an empty list. */
export function maxVersion(versions: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const v of versions) if (best === undefined || compareVersions(v, best) > 0) best = v;
  return best;
}
