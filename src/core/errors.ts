/**
 * Every failure Updraft reports is an {@link UpdraftError} with a stable `code`.
 * Codes never change meaning; new ones may be added. The CLI maps each code to an exit status.
 */

/** Stable error codes, grouped by what the user can do about them. */
export const ErrorCodes = {
  /** A command-line argument or option value is wrong. */
  USAGE: "USAGE",
  /** A version string is neither semver nor dotted numeric. */
  VERSION_INVALID: "VERSION_INVALID",
  /** A release manifest, channel pointer or `updraft.json` does not match its schema. */
  MANIFEST_INVALID: "MANIFEST_INVALID",
  /** The install folder has no Updraft configuration (run `updraft install` first). */
  NOT_INSTALLED: "NOT_INSTALLED",
  /** Signing keys are missing or unreadable. */
  KEYS_MISSING: "KEYS_MISSING",
  /** A key file holds something that is not an ed25519 key. */
  KEY_INVALID: "KEY_INVALID",
  /** The repository (or the app inside it) does not exist or is not initialised. */
  REPO_NOT_FOUND: "REPO_NOT_FOUND",
  /** `init` on an app that already has a root. */
  REPO_EXISTS: "REPO_EXISTS",
  /** Publishing a version that is already published, without `--force`. */
  VERSION_EXISTS: "VERSION_EXISTS",
  /** Publishing a version lower than or equal to the channel's current one... or another build folder problem. */
  BUILD_INVALID: "BUILD_INVALID",
  /** The server could not be reached, or the connection broke. */
  NETWORK: "NETWORK",
  /** The server answered with an unexpected HTTP status. */
  HTTP_STATUS: "HTTP_STATUS",
  /** Signed metadata has expired (freeze protection). */
  METADATA_EXPIRED: "METADATA_EXPIRED",
  /** Signed metadata is not signed by enough trusted keys. */
  METADATA_SIGNATURE: "METADATA_SIGNATURE",
  /** Signed metadata is older than what this client already trusts (rollback attack). */
  METADATA_ROLLBACK: "METADATA_ROLLBACK",
  /** Signed metadata is malformed, or inconsistent across roles. */
  METADATA_INVALID: "METADATA_INVALID",
  /** The root fetched on first use does not match the pinned fingerprint. */
  ROOT_MISMATCH: "ROOT_MISMATCH",
  /** A file the signed metadata should list is not there (unknown channel, version or artifact). */
  TARGET_NOT_FOUND: "TARGET_NOT_FOUND",
  /** A downloaded artifact's length or hash does not match the signed metadata. */
  TARGET_MISMATCH: "TARGET_MISMATCH",
  /** A release manifest or channel pointer does not match its signed length and hash. */
  MANIFEST_MISMATCH: "MANIFEST_MISMATCH",
  /** An archive is malformed or holds an entry the signed manifest does not allow. */
  ARCHIVE_INVALID: "ARCHIVE_INVALID",
  /** A staged or installed file does not match the signed manifest. */
  FILE_MISMATCH: "FILE_MISMATCH",
  /** `download()` or `install()` called with nothing to do. */
  NO_UPDATE: "NO_UPDATE",
  /** Another updater holds the install folder's lock. */
  LOCKED: "LOCKED",
  /** Not enough disk space. */
  DISK_FULL: "DISK_FULL",
  /** A file system operation failed (permissions, locked files). */
  INSTALL_FAILED: "INSTALL_FAILED",
  /** The operation was cancelled through an AbortSignal. */
  ABORTED: "ABORTED",
  /** The running Node.js lacks something Updraft needs. */
  UNSUPPORTED_RUNTIME: "UNSUPPORTED_RUNTIME",
  /** A bug: please report it. */
  INTERNAL: "INTERNAL",
  /** A legacy update label (SAAU `versao.txt`, python-autoupdate `update.json`) breaks its format. */
  LABEL_INVALID: "LABEL_INVALID",
  /** Plain `http://` to a host other than loopback for an unsigned update, without the opt-in flag. */
  INSECURE_TRANSPORT: "INSECURE_TRANSPORT",
  /** A service's stop or start command failed during an update (the old files were put back). */
  SERVICE_FAILED: "SERVICE_FAILED",
  /** The overall deadline of a download or request passed (distinct from a stall). */
  TIMEOUT: "TIMEOUT",
  /** The server redirected too many times, or in a loop. */
  TOO_MANY_REDIRECTS: "TOO_MANY_REDIRECTS",
  /** A metadata file is larger than its cap (endless data from a hostile or broken server). */
  METADATA_TOO_LARGE: "METADATA_TOO_LARGE",
  /** Metadata does not match the version, length or hash that the role above it signed. */
  METADATA_MISMATCH: "METADATA_MISMATCH",
  /** The offered release is older than the installed one and downgrades were not allowed. */
  DOWNGRADE_REFUSED: "DOWNGRADE_REFUSED",
  /** The repository's signed metadata has no such channel (a configuration mistake, not an attack). */
  CHANNEL_NOT_FOUND: "CHANNEL_NOT_FOUND",
  /** A file or folder given to Updraft is missing, of the wrong kind, or cannot be read or written. */
  FILE_ERROR: "FILE_ERROR",
  /** A delta artifact is malformed or does not produce the release it claims. */
  DELTA_INVALID: "DELTA_INVALID",
  /** The installed files differ from the release a delta applies to (modified locally, or missing). */
  DELTA_BASE_MISMATCH: "DELTA_BASE_MISMATCH",
} as const;

/** One of the stable codes of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options of an {@link UpdraftError}. */
export interface UpdraftErrorOptions {
  /** What the user can do about it, in one sentence. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Structured details for `--json` output (never secrets). */
  details?: Record<string, unknown>;
}

/** The one error class Updraft throws. Check `code`, not the message. */
export class UpdraftError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** What to do about it. */
  readonly hint: string | undefined;
  /** Structured details, safe to print. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: UpdraftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UpdraftError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A plain object for `--json` output. */
  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** True if `err` is an {@link UpdraftError}, optionally with the given code. */
export function isUpdraftError(err: unknown, code?: ErrorCode): err is UpdraftError {
  return err instanceof UpdraftError && (code === undefined || err.code === code);
}

/** What a known file system error means to a user, by errno. */
const ERRNO_MEANINGS: Record<string, string> = {
  ENOENT: "no such file or folder",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder, not a file",
  EEXIST: "something already exists there",
  ENOTEMPTY: "the folder is not empty",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links in the path",
  EMFILE: "too many open files",
  ENFILE: "too many open files on the system",
  EXDEV: "it would move a file across file systems",
  EIO: "an input/output error from the disk",
  EINVAL: "the file system refused the operation",
  ENXIO: "no such device",
  ENODEV: "no such device",
  ETXTBSY: "the file is a running program",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EBUSY: "the file is in use",
  EROFS: "the file system is read-only",
};

/** What a file system error code (ENOENT, EISDIR…) means in words, if it is a known one. */
export function errnoMeaning(errno: string | undefined): string | undefined {
  return errno !== undefined && Object.hasOwn(ERRNO_MEANINGS, errno) ? ERRNO_MEANINGS[errno] : undefined;
}

/** `syscall path: meaning (ERRNO)`, from what Node puts on a file system error. */
function describeErrno(err: NodeJS.ErrnoException, meaning: string): string {
  const where = [err.syscall, err.path !== undefined ? String(err.path) : undefined].filter(Boolean).join(" ");
  return `${where ? `cannot ${where}: ` : ""}${meaning} (${err.code})`;
}

/**
 * Wraps anything thrown into an {@link UpdraftError}, keeping Updraft's own errors as they are.
 * File system errors of a known kind get a code and a message naming the path: they are almost
 * always a wrong path or a permission, never a reason to report a bug.
 */
export function toUpdraftError(
  err: unknown,
  fallback: ErrorCode = ErrorCodes.INTERNAL,
  context?: string,
): UpdraftError {
  if (err instanceof UpdraftError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const prefix = context ? `${context}: ` : "";
  const e = err as NodeJS.ErrnoException | undefined;
  const errno = e?.code;
  if (errno === "ENOSPC" || errno === "EDQUOT") {
    return new UpdraftError(ErrorCodes.DISK_FULL, `${prefix}disk full (${message})`, {
      cause: err,
      hint: "Free some disk space and try again.",
    });
  }
  if (errno === "EACCES" || errno === "EPERM" || errno === "EBUSY" || errno === "EROFS") {
    return new UpdraftError(ErrorCodes.INSTALL_FAILED, `${prefix}${message}`, {
      cause: err,
      hint: "Check that the folder is writable and that no other program holds its files open.",
    });
  }
  const meaning = errnoMeaning(errno);
  if (meaning !== undefined) {
    return new UpdraftError(ErrorCodes.FILE_ERROR, `${prefix}${describeErrno(e!, meaning)}`, {
      cause: err,
      hint: "Check the paths given to the command: each must exist and be of the right kind (file or folder).",
    });
  }
  if ((err as Error | undefined)?.name === "AbortError") {
    return new UpdraftError(ErrorCodes.ABORTED, `${prefix}cancelled`, { cause: err });
  }
  return new UpdraftError(fallback, `${prefix}${message}`, { cause: err });
}

/** Exit statuses of the CLI, stable across releases (also listed in the README). */
export const ExitCodes = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  CONFIG: 3,
  NETWORK: 4,
  SECURITY: 5,
  INSTALL: 6,
  LOCKED: 7,
  DISK_FULL: 8,
  UPDATE_AVAILABLE: 10,
} as const;

/** The CLI exit status for an error code. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.USAGE:
    case ErrorCodes.VERSION_INVALID:
    case ErrorCodes.NO_UPDATE:
      return ExitCodes.USAGE;
    case ErrorCodes.NOT_INSTALLED:
    case ErrorCodes.MANIFEST_INVALID:
    case ErrorCodes.KEYS_MISSING:
    case ErrorCodes.KEY_INVALID:
    case ErrorCodes.REPO_NOT_FOUND:
    case ErrorCodes.REPO_EXISTS:
    case ErrorCodes.VERSION_EXISTS:
    case ErrorCodes.BUILD_INVALID:
    case ErrorCodes.UNSUPPORTED_RUNTIME:
    case ErrorCodes.LABEL_INVALID:
    case ErrorCodes.CHANNEL_NOT_FOUND:
      return ExitCodes.CONFIG;
    case ErrorCodes.NETWORK:
    case ErrorCodes.HTTP_STATUS:
    case ErrorCodes.ABORTED:
    case ErrorCodes.TIMEOUT:
    case ErrorCodes.TOO_MANY_REDIRECTS:
      return ExitCodes.NETWORK;
    case ErrorCodes.METADATA_EXPIRED:
    case ErrorCodes.METADATA_SIGNATURE:
    case ErrorCodes.METADATA_ROLLBACK:
    case ErrorCodes.METADATA_INVALID:
    case ErrorCodes.ROOT_MISMATCH:
    case ErrorCodes.TARGET_NOT_FOUND:
    case ErrorCodes.TARGET_MISMATCH:
    case ErrorCodes.MANIFEST_MISMATCH:
    case ErrorCodes.ARCHIVE_INVALID:
    case ErrorCodes.FILE_MISMATCH:
    case ErrorCodes.INSECURE_TRANSPORT:
    case ErrorCodes.METADATA_TOO_LARGE:
    case ErrorCodes.METADATA_MISMATCH:
    case ErrorCodes.DOWNGRADE_REFUSED:
    case ErrorCodes.DELTA_INVALID:
      return ExitCodes.SECURITY;
    case ErrorCodes.INSTALL_FAILED:
    case ErrorCodes.FILE_ERROR:
    case ErrorCodes.SERVICE_FAILED:
    case ErrorCodes.DELTA_BASE_MISMATCH:
      return ExitCodes.INSTALL;
    case ErrorCodes.LOCKED:
      return ExitCodes.LOCKED;
    case ErrorCodes.DISK_FULL:
      return ExitCodes.DISK_FULL;
    default:
      return ExitCodes.INTERNAL;
  }
}
