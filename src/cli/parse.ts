/**
 * One parser per kind of option value (durations, counts, ports, URLs, versions, names, pins,
 * paths). Commands attach them to their options, so commander checks every value before any
 * command starts: a bad value is a usage error (exit 2) naming the flag and what it accepts,
 * never a failure halfway through an update.
 */
import { isIP } from "node:net";
import { InvalidArgumentError } from "commander";
import { parseRootPin } from "../client/trust/root.js";
import { ErrorCodes, errnoMeaning, UpdraftError } from "../core/errors.js";
import { FileTooLargeError, readCapped } from "../core/read-capped.js";
import { isValidVersion } from "../core/version.js";
import {
  APP_NAME_PATTERN,
  CHANNEL_PATTERN,
  type HealthPolicy,
  MAX_HEALTH_UPTIME_SECONDS,
  PLATFORM_PATTERN,
  parseHealthPolicy,
  unpublishableNameReason,
  unpublishableVersionReason,
} from "../formats/native.js";

/** A commander option parser: the option's text in, its checked value out. */
export type ValueParser<T> = (text: string) => T;

const DECIMAL = /^\d{1,12}(\.\d{1,6})?$/;

/**
 * A duration given in `unit` (a plain decimal number, no exponent or sign) from `min` to `max`
 * units, returned in milliseconds.
 */
export function duration(unit: "seconds" | "minutes", min: number, max: number): ValueParser<number> {
  const scale = unit === "seconds" ? 1000 : 60_000;
  return (text) => {
    const n = DECIMAL.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min && n <= max)) {
      throw new InvalidArgumentError(`Give a number of ${unit} from ${min} to ${max}.`);
    }
    return Math.round(n * scale);
  };
}

/** A whole number from `min` to `max`. */
export function wholeNumber(min: number, max: number, why = ""): ValueParser<number> {
  return (text) => {
    const n = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`Give a whole number from ${min} to ${max}${why}.`);
    return n;
  };
}

/** A TCP port; 0 lets the system choose. */
export const port: ValueParser<number> = wholeNumber(0, 65535, " (0 lets the system pick a free port)");

/** A process id. */
export const pid: ValueParser<number> = wholeNumber(1, 2 ** 31 - 1);

/** A release's health policy: `uptime:SECONDS`, `confirm` or `none`. */
export function healthPolicy(text: string): HealthPolicy {
  const policy = parseHealthPolicy(text);
  if (!policy) {
    throw new InvalidArgumentError(`Use uptime:SECONDS (1 to ${MAX_HEALTH_UPTIME_SECONDS}), confirm or none.`);
  }
  return policy;
}

/** An `http://` or `https://` URL. */
export function httpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError("Give an http:// or https:// URL.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`Give an http:// or https:// URL, not ${url.protocol}.`);
  }
  return text;
}

/** A version: semver (`1.2.3`, `2.0.0-beta.1`) or dotted numbers (`1.0.0.35`). */
export function version(text: string): string {
  if (!isValidVersion(text)) {
    throw new InvalidArgumentError("Give a semver version (1.2.3, 2.0.0-beta.1) or dotted numbers (1.0.0.35).");
  }
  return text;
}

/**
 * An app name. Repositories store it in lower case; legacy (SAAU) names are matched in any case,
 * so the case is left to the command.
 */
export function appName(text: string): string {
  if (!APP_NAME_PATTERN.test(text.toLowerCase())) {
    throw new InvalidArgumentError(
      "Use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.",
    );
  }
  return text;
}

/** An app name for `init` and `publish`: also one that every server and file system can carry. */
export function publishedAppName(text: string): string {
  const reason = unpublishableNameReason(appName(text).toLowerCase());
  if (reason !== undefined) throw new InvalidArgumentError(`"${text}" ${reason}.`);
  return text;
}

/** A channel name for `publish`: also one that every server and file system can carry. */
export function publishedChannelName(text: string): string {
  const reason = unpublishableNameReason(channelName(text));
  if (reason !== undefined) throw new InvalidArgumentError(`"${text}" ${reason}.`);
  return text;
}

/** A version for `publish`: also one that every server and file system can carry. */
export function publishedVersion(text: string): string {
  const reason = unpublishableVersionReason(version(text));
  if (reason !== undefined) throw new InvalidArgumentError(`"${text}" ${reason}.`);
  return text;
}

/** A channel name. */
export function channelName(text: string): string {
  if (!CHANNEL_PATTERN.test(text)) {
    throw new InvalidArgumentError(
      "Use 1 to 32 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.",
    );
  }
  return text;
}

/** A platform: `any` or Node's `os-arch` (`linux-x64`, `win32-x64`, `darwin-arm64`…). */
export function platformName(text: string): string {
  if (!PLATFORM_PATTERN.test(text)) {
    throw new InvalidArgumentError("Use any, or Node's os-arch (linux-x64, linux-arm64, darwin-arm64, win32-x64…).");
  }
  return text;
}

/** A percent from 0 to 100 (up to two decimals). */
export function percent(text: string): number {
  if (!/^\d{1,3}(?:\.\d{1,2})?%?$/.test(text) || Number.parseFloat(text) > 100) {
    throw new InvalidArgumentError("Give a percent from 0 to 100 (like 5, 12.5 or 2%).");
  }
  return Number.parseFloat(text);
}

/** The name of an environment variable. */
export function envName(text: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(text)) {
    throw new InvalidArgumentError("Give an environment variable name (letters, digits and '_').");
  }
  return text;
}

/** An address to listen on: an IP address or a host name. */
export function hostAddress(text: string): string {
  if (
    isIP(text) === 0 &&
    !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(text)
  ) {
    throw new InvalidArgumentError("Give an IP address (127.0.0.1, 0.0.0.0, ::1) or a host name.");
  }
  return text;
}

/** A path: not empty (an empty path would silently mean the current folder), no NUL. */
export function path(text: string): string {
  if (text.length === 0 || text.includes("\0")) throw new InvalidArgumentError("Give a non-empty path.");
  return text;
}

/**
 * A root fingerprint pin, exactly as `updraft init` prints it (`sha256:` and 64 hex digits) or
 * just the hex; returned as lower-case hex.
 */
export function rootPin(text: string): string {
  try {
    return parseRootPin(text);
  } catch (err) {
    throw new InvalidArgumentError((err instanceof UpdraftError && err.hint) || String(err));
  }
}

/** Caps of local files read as input. */
export const FILE_CAPS = {
  /** A TUF root: the same cap as a root fetched on first use. */
  root: 512 * 1024,
  /** Release notes. */
  notes: 1024 * 1024,
  /** Extra CA certificates (a system bundle is about 200 kB). */
  caBundle: 4 * 1024 * 1024,
} as const;

/**
 * Reads a local file named by `flag`, holding at most `maxBytes` in memory. A missing, unreadable
 * or oversized file is a usage error naming the flag.
 */
export async function readOptionFile(flag: string, file: string, maxBytes: number, what: string): Promise<Buffer> {
  try {
    return await readCapped(file, maxBytes);
  } catch (err) {
    const reason =
      err instanceof FileTooLargeError
        ? `it is larger than ${maxBytes} bytes`
        : (errnoMeaning((err as NodeJS.ErrnoException).code) ?? (err as Error).message);
    throw new UpdraftError(ErrorCodes.USAGE, `Cannot read ${flag} ${file}: ${reason}`, {
      cause: err,
      hint: `Give the path of ${what}.`,
    });
  }
}
