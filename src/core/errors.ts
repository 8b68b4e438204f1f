/**
 * Every failure Updraft reports is an {@link UpdraftError} with a stable `code`.
 * Codes never change meaning; new ones may be added. What each code means, the CLI exit status it
 * gives, and how Updraft treats it (retried, resumed, holding a version back) is one row of
 * {@link ERRORS}; everything else is derived from that table.
 */

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
  FILE_LOCKED: 9,
  UPDATE_AVAILABLE: 10,
  UPDATE_REQUIRED: 11,
} as const;

/** One of the statuses of {@link ExitCodes}. */
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/**
 * Where in the life of an update a failure belongs (Sparkle groups its codes the same way):
 * - `usage`: the arguments given to a command or a library call;
 * - `config`: the setup Updraft works with (install folder, configuration, paths, channel);
 * - `publish`: the publisher's side (keys, repository, build folder);
 * - `network`: reaching the server;
 * - `trust`: checking what the repository offers (signed metadata, labels, versions);
 * - `download`: an artifact's bytes against their signed hash;
 * - `install`: unpacking, writing and switching files, locks, disk, services;
 * - `process`: the running process itself (cancelled, an unsupported Node, a bug).
 */
export type ErrorPhase = "usage" | "config" | "publish" | "network" | "trust" | "download" | "install" | "process";

/** How Updraft treats one error code: one row of {@link ERRORS}. */
export interface ErrorSpec {
  /** What the code means, in one sentence (the README's table is generated from it). */
  readonly summary: string;
  /** Where it happens. */
  readonly phase: ErrorPhase;
  /** The CLI exit status it gives. */
  readonly exit: ExitCode;
  /**
   * Whether the HTTP client tries the request again: `true`, `false`, or `"by-status"` (only
   * statuses that may pass: timeouts, rate limits, server-side failures). One error may still
   * opt out (a certificate nobody trusts stays untrusted on the next try).
   */
  readonly retryable: boolean | "by-status";
  /**
   * Whether running the same command again continues where this failure stopped, so the work
   * done so far is kept (a first install keeps its partial download) rather than undone.
   */
  readonly resumable: boolean;
  /**
   * Whether the failure is the verified release's own fault (its archive or files break the signed
   * manifest, its service does not start): the version is then held back for the back-off window.
   * Never an interruption, the network, a mirror's altered bytes or the machine.
   */
  readonly bansRelease: boolean;
}

/** A row's defaults: most codes are final, not resumable, and say nothing about the release. */
const FINAL = { retryable: false, resumable: false, bansRelease: false } as const;
/** A transport failure: the same command later continues where it stopped. */
const TRANSIENT = { retryable: false, resumable: true, bansRelease: false } as const;
/** The verified release itself failed to install: its version is held back. */
const RELEASE_FAULT = { retryable: false, resumable: false, bansRelease: true } as const;

/** Every error code with how Updraft treats it. Codes never change meaning; new ones may be added. */
export const ERRORS = {
  USAGE: {
    summary: "A command-line argument, option value or library call argument is wrong.",
    phase: "usage",
    exit: ExitCodes.USAGE,
    ...FINAL,
  },
  VERSION_INVALID: {
    summary: "A version string is neither semver nor dotted numeric.",
    phase: "usage",
    exit: ExitCodes.USAGE,
    ...FINAL,
  },
  NO_UPDATE: {
    summary: "`download()` or `install()` called with nothing to do.",
    phase: "usage",
    exit: ExitCodes.USAGE,
    ...FINAL,
  },
  NOT_INSTALLED: {
    summary: "The install folder has no Updraft configuration (run `updraft install` first).",
    phase: "config",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  MANIFEST_INVALID: {
    summary: "A release manifest, channel pointer or `updraft.json` does not match its schema.",
    phase: "config",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  CHANNEL_NOT_FOUND: {
    summary: "The repository's signed metadata has no such channel (a configuration mistake, not an attack).",
    phase: "config",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  NO_BUILD_FOR_PLATFORM: {
    summary: "The channel offers no build for this install's platform (`os-arch`) nor for `any`.",
    phase: "config",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  RELEASE_NOT_FOUND: {
    summary: "`yank`, `promote` or `rollout` names a version or channel that has no such release.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  FILE_ERROR: {
    summary: "A file or folder given to Updraft is missing, of the wrong kind, or cannot be read or written.",
    phase: "config",
    exit: ExitCodes.INSTALL,
    ...FINAL,
  },
  KEYS_MISSING: {
    summary: "Signing keys are missing or unreadable.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  KEY_INVALID: {
    summary:
      "A key file holds something that is not an ed25519 key, or a key the app's root does not list for its role.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  ROOT_THRESHOLD: {
    summary: "A new root version is not signed by enough root keys of the current root and of itself.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  REPO_NOT_FOUND: {
    summary: "The repository (or the app inside it) does not exist or is not initialised.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  EVENTS_DB_INVALID: {
    summary: "The health events database cannot be opened, or is not one `updraft serve --events` wrote.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  REPO_EXISTS: {
    summary: "`init` on an app that already has a root.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  VERSION_EXISTS: {
    summary: "Publishing a version that is already published, without `--force`.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  BUILD_INVALID: {
    summary: "Publishing a version not higher than the channel's current one, or another build folder problem.",
    phase: "publish",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  STORE_FAILED: {
    summary:
      "An object store (S3 or compatible) refused or failed a request of the publisher (credentials, bucket, network).",
    phase: "publish",
    exit: ExitCodes.NETWORK,
    ...TRANSIENT,
  },
  REPO_CONFLICT: {
    summary:
      "Another publisher changed the remote repository while this command ran; nothing of this one was made visible.",
    phase: "publish",
    exit: ExitCodes.LOCKED,
    ...FINAL,
  },
  NETWORK: {
    summary: "The server could not be reached, or the connection broke.",
    phase: "network",
    exit: ExitCodes.NETWORK,
    ...TRANSIENT,
    retryable: true,
  },
  HTTP_STATUS: {
    summary: "The server answered with an unexpected HTTP status.",
    phase: "network",
    exit: ExitCodes.NETWORK,
    ...TRANSIENT,
    retryable: "by-status",
  },
  TIMEOUT: {
    summary: "The overall deadline of a download or request passed (distinct from a stall).",
    phase: "network",
    exit: ExitCodes.NETWORK,
    ...TRANSIENT,
  },
  TOO_MANY_REDIRECTS: {
    summary: "The server redirected too many times, or in a loop.",
    phase: "network",
    exit: ExitCodes.NETWORK,
    ...TRANSIENT,
  },
  INSECURE_TRANSPORT: {
    summary: "Plain `http://` to a host other than loopback for an unsigned update, without the opt-in flag.",
    phase: "network",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  METADATA_EXPIRED: {
    summary: "Signed metadata has expired (freeze protection).",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  METADATA_SIGNATURE: {
    summary: "Signed metadata is not signed by enough trusted keys.",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  METADATA_ROLLBACK: {
    summary: "Signed metadata is older than what this client already trusts (rollback attack).",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  METADATA_INVALID: {
    summary: "Signed metadata is malformed, or inconsistent across roles.",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  METADATA_MISMATCH: {
    summary: "Metadata does not match the version, length or hash that the role above it signed.",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  METADATA_TOO_LARGE: {
    summary: "A metadata file is larger than its cap (endless data from a hostile or broken server).",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  ROOT_MISMATCH: {
    summary: "The root fetched on first use does not match the pinned fingerprint.",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  TARGET_NOT_FOUND: {
    summary: "A file the signed metadata should list is not there (unknown channel, version or artifact).",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  MANIFEST_MISMATCH: {
    summary: "A release manifest or channel pointer does not match its signed length and hash.",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  DOWNGRADE_REFUSED: {
    summary: "The offered release is older than the installed one and downgrades were not allowed.",
    phase: "trust",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  LABEL_INVALID: {
    summary: "A legacy update label (SAAU `versao.txt`, python-autoupdate `update.json`) breaks its format.",
    phase: "trust",
    exit: ExitCodes.CONFIG,
    ...RELEASE_FAULT,
  },
  TARGET_MISMATCH: {
    summary: "A downloaded artifact's length or hash does not match the signed metadata.",
    phase: "download",
    exit: ExitCodes.SECURITY,
    ...FINAL,
  },
  ARCHIVE_INVALID: {
    summary: "An archive is malformed or holds an entry the signed manifest does not allow.",
    phase: "install",
    exit: ExitCodes.SECURITY,
    ...RELEASE_FAULT,
  },
  FILE_MISMATCH: {
    summary: "A staged or installed file does not match the signed manifest.",
    phase: "install",
    exit: ExitCodes.SECURITY,
    ...RELEASE_FAULT,
  },
  DELTA_INVALID: {
    summary: "A delta artifact is malformed or does not produce the release it claims.",
    phase: "install",
    exit: ExitCodes.SECURITY,
    ...RELEASE_FAULT,
  },
  DELTA_BASE_MISMATCH: {
    summary: "The installed files differ from the release a delta applies to (modified locally, or missing).",
    phase: "install",
    exit: ExitCodes.INSTALL,
    ...FINAL,
  },
  SERVICE_FAILED: {
    summary: "A service's stop or start command failed during an update (the old files were put back).",
    phase: "install",
    exit: ExitCodes.INSTALL,
    ...RELEASE_FAULT,
  },
  INSTALL_FAILED: {
    summary: "A file system operation failed (permissions, locked files).",
    phase: "install",
    exit: ExitCodes.INSTALL,
    ...FINAL,
  },
  FILE_LOCKED: {
    summary:
      "A file of the install stayed held by another program (the app still running, an antivirus scanning it) through the retry budget; everything was rolled back.",
    phase: "install",
    exit: ExitCodes.FILE_LOCKED,
    ...FINAL,
  },
  LOCKED: {
    summary: "Another updater holds the install folder's lock.",
    phase: "install",
    exit: ExitCodes.LOCKED,
    ...FINAL,
  },
  DISK_FULL: {
    summary: "Not enough disk space.",
    phase: "install",
    exit: ExitCodes.DISK_FULL,
    ...FINAL,
    resumable: true,
  },
  ABORTED: {
    summary: "The operation was cancelled through an AbortSignal (or Ctrl-C).",
    phase: "process",
    exit: ExitCodes.NETWORK,
    ...FINAL,
    resumable: true,
  },
  UNSUPPORTED_RUNTIME: {
    summary: "The running Node.js lacks something Updraft needs.",
    phase: "process",
    exit: ExitCodes.CONFIG,
    ...FINAL,
  },
  INTERNAL: {
    summary: "A bug: please report it.",
    phase: "process",
    exit: ExitCodes.INTERNAL,
    ...FINAL,
  },
} as const satisfies Record<string, ErrorSpec>;

/** One of the stable codes: a key of {@link ERRORS}. */
export type ErrorCode = keyof typeof ERRORS;

/** Every stable code by name (`ErrorCodes.NETWORK === "NETWORK"`); what each means is in {@link ERRORS}. */
export const ErrorCodes: { readonly [C in ErrorCode]: C } = Object.freeze(
  Object.fromEntries(Object.keys(ERRORS).map((code) => [code, code])) as { [C in ErrorCode]: C },
);

/** The CLI exit status for an error code. */
export function exitCodeFor(code: ErrorCode): ExitCode {
  return ERRORS[code].exit;
}

/**
 * Whether a request that failed with `code` may succeed when tried again; for `"by-status"`
 * codes the caller's `statusRetryable` decides (see the HTTP client's retry policy).
 */
export function isRetryableCode(code: ErrorCode, statusRetryable = false): boolean {
  const { retryable } = ERRORS[code];
  return retryable === "by-status" ? statusRetryable : retryable;
}

/** Whether running the same command again continues where a failure with `code` stopped. */
export function isResumableCode(code: ErrorCode): boolean {
  return ERRORS[code].resumable;
}

/** Whether a failure with `code` is the verified release's own fault, so its version is held back. */
export function bansRelease(code: ErrorCode): boolean {
  return ERRORS[code].bansRelease;
}

/**
 * What Updraft's own retry and recovery steps read from one error, beyond its code. Never part of
 * the error's `details` nor of `--json` output: these steer Updraft, they tell a user nothing.
 */
export interface ErrorInternals {
  /** Overrides the code's `retryable` for this one failure (an untrusted TLS certificate stays untrusted). */
  readonly retryable?: boolean;
  /** A resumed download failed its hash: it may be rebuilt once from its first byte. */
  readonly rebuildable?: boolean;
  /** The install journal cannot be what Updraft wrote: it is moved aside, not obeyed. */
  readonly damagedJournal?: boolean;
}

/** Options of an {@link UpdraftError}. */
export interface UpdraftErrorOptions {
  /** What the user can do about it, in one sentence. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Structured details for `--json` output (never secrets, never internal flags: see `internal`). */
  details?: Record<string, unknown>;
  /** Flags for Updraft's own retry and recovery steps; never printed. */
  internal?: ErrorInternals;
}

const NO_INTERNALS: ErrorInternals = Object.freeze({});

/** The one error class Updraft throws. Check `code`, not the message. */
export class UpdraftError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** What to do about it. */
  readonly hint: string | undefined;
  /** Structured details, safe to print. */
  readonly details: Record<string, unknown> | undefined;
  /** Flags for Updraft's own retry and recovery steps (not enumerable: never serialised or printed). */
  declare readonly internal: ErrorInternals;

  constructor(code: ErrorCode, message: string, options: UpdraftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UpdraftError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
    Object.defineProperty(this, "internal", {
      value: options.internal ? Object.freeze({ ...options.internal }) : NO_INTERNALS,
      enumerable: false,
    });
  }

  /** A plain object for `--json` output: code, message, hint and details only. */
  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Throws an {@link UpdraftError} carrying `message`; made by {@link failWith}. */
export type Fail = (message: string) => never;

/**
 * A module's one way to refuse its input: a function that throws `code` with `hint` and the
 * message it is given (after `prefix`). Declare the constant with the type {@link Fail}, so that
 * TypeScript knows its calls do not return.
 */
export function failWith(code: ErrorCode, hint: string, prefix = ""): Fail {
  return (message) => {
    throw new UpdraftError(code, `${prefix}${message}`, { hint });
  };
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
