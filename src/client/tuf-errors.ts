/** Maps what tuf-js throws to Updraft's stable codes, so users see one vocabulary. */
import { ErrorCodes, UpdraftError } from "../core/errors.js";

/** Turns any error from a TUF refresh or target lookup into an {@link UpdraftError}. */
export function mapTufError(err: unknown, repoUrl: string): UpdraftError {
  if (err instanceof UpdraftError) return err;
  const e = err as Error & { statusCode?: number; cause?: unknown };
  if (e?.cause instanceof UpdraftError) return e.cause;
  const name = e?.constructor?.name ?? "Error";
  const message = String(e?.message ?? err);
  // tuf-js wraps snapshot/targets failures in RuntimeError("Unable to load … error <inner>"), so match on text too.
  if (name === "ExpiredMetadataError" || /is expired/i.test(message)) {
    return new UpdraftError(ErrorCodes.METADATA_EXPIRED, `The repository's signed metadata has expired (${message})`, {
      cause: err,
      hint: "The publisher must re-sign it (`updraft refresh-timestamp`, or publish again). Nothing was changed here.",
      details: { repository: repoUrl },
    });
  }
  if (name === "UnsignedMetadataError" || /signed by \d+\/\d+ keys|multiple signatures|signature/i.test(message)) {
    return new UpdraftError(
      ErrorCodes.METADATA_SIGNATURE,
      `The repository's metadata is not signed by the trusted keys (${message})`,
      {
        cause: err,
        hint: "The repository may have been tampered with, or its keys were replaced without a root rotation. Nothing was installed.",
        details: { repository: repoUrl },
      },
    );
  }
  if (
    /does not match snapshot version|doesn't match timestamp|LengthOrHashMismatch|hash|length/i.test(
      `${name} ${message}`,
    )
  ) {
    return new UpdraftError(ErrorCodes.METADATA_INVALID, `The repository's metadata is inconsistent (${message})`, {
      cause: err,
      hint: "A publish may be in progress or a mirror is serving a mix of files; try again later.",
    });
  }
  if (name === "BadVersionError" || /less than current version|Expected version/i.test(message)) {
    return new UpdraftError(
      ErrorCodes.METADATA_ROLLBACK,
      `The repository offers metadata older than what this install already trusts (${message})`,
      { cause: err, hint: "A mirror may be serving stale or replayed files. Nothing was installed." },
    );
  }
  if (name === "DownloadHTTPError" || typeof e?.statusCode === "number") {
    return new UpdraftError(ErrorCodes.HTTP_STATUS, `The repository answered HTTP ${e.statusCode} (${message})`, {
      cause: err,
      details: { status: e.statusCode, repository: repoUrl },
      hint: "Check the repository URL and the app name.",
    });
  }
  if (name === "DownloadLengthMismatchError" || /max length/i.test(message)) {
    return new UpdraftError(ErrorCodes.METADATA_INVALID, `A metadata file is larger than allowed (${message})`, {
      cause: err,
      hint: "The server sent more data than TUF allows; it may be misbehaving or hostile.",
    });
  }
  if (/Unable to load|RepositoryError|ValueError|TypeError|JSON/i.test(`${name} ${message}`)) {
    return new UpdraftError(ErrorCodes.METADATA_INVALID, `The repository's metadata cannot be used (${message})`, {
      cause: err,
      hint: "Check that the URL points to an Updraft repository.",
    });
  }
  return new UpdraftError(ErrorCodes.NETWORK, `Cannot refresh metadata from ${repoUrl}: ${message}`, { cause: err });
}
