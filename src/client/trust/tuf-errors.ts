/**
 * Maps what tuf-js throws to Updraft's stable codes, so users see one vocabulary and each attack
 * has its own code. tuf-js wraps snapshot and targets failures in `RuntimeError("Unable to load …
 * error Error: <inner message>")`, dropping the inner class, so the rules match on message text
 * (checked against tuf-js 6.0.2 / @tufjs/models 5.0.2; test/tuf-attacks.test.ts pins each one).
 * The few class checks go by constructor name: tuf-js exports none of its error classes, and a
 * package's private files may change in any release.
 */
import { type ErrorCode, ErrorCodes, UpdraftError } from "../../core/errors.js";
import { redactUrl } from "../net/url-policy.js";

interface Rule {
  test: RegExp;
  code: ErrorCode;
  /** Role named by the message (capture group 1), or a fixed role. */
  role?: string | ((m: RegExpMatchArray) => string | undefined);
  /** Refines the code from the match (e.g. root version lower vs higher than expected). */
  refine?: (m: RegExpMatchArray) => ErrorCode;
  what: string;
  hint: string;
}

const FREEZE_HINT =
  "The publisher must re-sign it (`updraft refresh-timestamp`, or publish again). If it keeps happening, a mirror may be replaying old files. Nothing was changed here.";
const TAMPER_HINT =
  "The repository or a mirror is serving files not signed by the trusted keys, or keys were replaced without a root rotation. Nothing was installed.";
const ROLLBACK_HINT =
  "A mirror may be serving stale or replayed files. Nothing was installed; try again later or another mirror.";
const TOO_LARGE_HINT =
  "The server sent more data than TUF allows (endless data?); it may be misbehaving or hostile. Nothing was installed.";
const MISMATCH_HINT =
  "A publish may be in progress or a mirror is serving a mix of files; try again later. If it persists, the repository is damaged or tampered with.";

const RULES: Rule[] = [
  {
    test: /Final root\.json is expired/i,
    code: ErrorCodes.METADATA_EXPIRED,
    role: "root",
    what: "The repository's root metadata has expired",
    hint: "The publisher must sign a new root version. Nothing was changed here.",
  },
  {
    test: /(?:Final )?(timestamp|snapshot|[\w.-]+)\.json is expired/i,
    code: ErrorCodes.METADATA_EXPIRED,
    role: (m) => m[1],
    what: "The repository's signed metadata has expired",
    hint: FREEZE_HINT,
  },
  {
    test: /\broot was signed by \d+\/\d+ keys/i,
    code: ErrorCodes.METADATA_SIGNATURE,
    role: "root",
    what: "The repository's new root version is not signed by enough keys of the root this install trusts, or of its own",
    hint: "A root below its threshold is never trusted: the publisher must collect the missing root signatures (`updraft root sign`). Nothing was changed here.",
  },
  {
    test: /([\w.-]+) was signed by \d+\/\d+ keys/i,
    code: ErrorCodes.METADATA_SIGNATURE,
    role: (m) => m[1],
    what: "The repository's metadata is not signed by enough trusted keys",
    hint: TAMPER_HINT,
  },
  {
    test: /multiple signatures found for keyid/i,
    code: ErrorCodes.METADATA_SIGNATURE,
    what: "The repository's metadata repeats one key's signature to fake a threshold",
    hint: TAMPER_HINT,
  },
  {
    test: /Expected version (\d+), got (\d+)/i,
    code: ErrorCodes.METADATA_MISMATCH,
    role: "root",
    refine: (m) => (Number(m[2]) < Number(m[1]) ? ErrorCodes.METADATA_ROLLBACK : ErrorCodes.METADATA_MISMATCH),
    what: "The repository's root chain is broken (a root file does not hold the version its name says)",
    hint: MISMATCH_HINT,
  },
  {
    test: /New (timestamp|snapshot) version \d+ is less than current version \d+/i,
    code: ErrorCodes.METADATA_ROLLBACK,
    role: (m) => m[1],
    what: "The repository offers metadata older than what this install already trusts",
    hint: ROLLBACK_HINT,
  },
  {
    test: /New version \d+ of ([\w.-]+?)(?:\.json)? is less than current version/i,
    code: ErrorCodes.METADATA_ROLLBACK,
    role: (m) => m[1],
    what: "The repository offers metadata older than what this install already trusts",
    hint: ROLLBACK_HINT,
  },
  {
    test: /Version \d+ of ([\w.-]+) does not match snapshot version/i,
    code: ErrorCodes.METADATA_MISMATCH,
    role: (m) => m[1],
    what: "The repository's targets metadata is not the version the snapshot signed",
    hint: MISMATCH_HINT,
  },
  {
    test: /Snapshot version doesn't match timestamp/i,
    code: ErrorCodes.METADATA_MISMATCH,
    role: "snapshot",
    what: "The repository's snapshot is not the version the timestamp signed",
    hint: MISMATCH_HINT,
  },
  {
    test: /Expected (?:length|hash) \S+ but got/i,
    code: ErrorCodes.METADATA_MISMATCH,
    what: "A metadata file does not match the length and hash signed for it",
    hint: MISMATCH_HINT,
  },
  {
    test: /Max length reached/i,
    code: ErrorCodes.METADATA_TOO_LARGE,
    what: "A metadata file is larger than allowed",
    hint: TOO_LARGE_HINT,
  },
];

/** `METADATA_TOO_LARGE` for a metadata file at `url` that sent more than `maxBytes`. */
export function metadataTooLarge(url: string, maxBytes: number): UpdraftError {
  return new UpdraftError(
    ErrorCodes.METADATA_TOO_LARGE,
    `A metadata file is larger than allowed (${redactUrl(url)} is larger than ${maxBytes} bytes)`,
    { hint: TOO_LARGE_HINT, details: { url: redactUrl(url), maxBytes } },
  );
}

function roleOf(rule: Rule, m: RegExpMatchArray): string | undefined {
  if (typeof rule.role === "function") return rule.role(m);
  return rule.role;
}

/**
 * Turns any error from a TUF refresh or target lookup into an {@link UpdraftError}.
 * `transportFailure` is the last network error the fetcher saw: tuf-js rethrows some of them
 * wrapped, and this puts the original (with its code: NETWORK, HTTP_STATUS, TIMEOUT…) back.
 */
export function mapTufError(err: unknown, repoUrl: string, transportFailure?: UpdraftError): UpdraftError {
  if (err instanceof UpdraftError) return err;
  const e = err as Error & { statusCode?: number; cause?: unknown };
  if (e?.cause instanceof UpdraftError) return e.cause;
  const name = e?.constructor?.name ?? "Error";
  const message = String(e?.message ?? err);
  if (transportFailure && message.includes(transportFailure.message)) return transportFailure;
  for (const rule of RULES) {
    const m = message.match(rule.test);
    if (!m) continue;
    const role = roleOf(rule, m);
    return new UpdraftError(rule.refine?.(m) ?? rule.code, `${rule.what} (${message})`, {
      cause: err,
      hint: rule.hint,
      details: { repository: repoUrl, ...(role ? { role } : {}) },
    });
  }
  if (name === "UnsignedMetadataError" || /signature/i.test(message)) {
    return new UpdraftError(
      ErrorCodes.METADATA_SIGNATURE,
      `The repository's metadata is not signed by the trusted keys (${message})`,
      { cause: err, hint: TAMPER_HINT, details: { repository: repoUrl } },
    );
  }
  if (name === "BadVersionError") {
    return new UpdraftError(
      ErrorCodes.METADATA_ROLLBACK,
      `The repository offers metadata older than what this install already trusts (${message})`,
      { cause: err, hint: ROLLBACK_HINT, details: { repository: repoUrl } },
    );
  }
  if (name === "DownloadHTTPError" || typeof e?.statusCode === "number") {
    return new UpdraftError(ErrorCodes.HTTP_STATUS, `The repository answered HTTP ${e.statusCode} (${message})`, {
      cause: err,
      details: { status: e.statusCode, repository: repoUrl },
      hint: "Check the repository URL and the app name.",
    });
  }
  if (
    /Unable to load|RepositoryError|ValueError|TypeError|SyntaxError|JSON|Missing|Expected '/i.test(
      `${name} ${message}`,
    )
  ) {
    return new UpdraftError(ErrorCodes.METADATA_INVALID, `The repository's metadata cannot be used (${message})`, {
      cause: err,
      hint: "Check that the URL points to an Updraft repository; a server answering with an error page also causes this.",
      details: { repository: repoUrl },
    });
  }
  return new UpdraftError(ErrorCodes.NETWORK, `Cannot refresh metadata from ${repoUrl}: ${message}`, { cause: err });
}
