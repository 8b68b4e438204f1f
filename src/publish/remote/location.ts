/**
 * Where a repository lives: a local folder, or `s3://BUCKET/PREFIX` in an S3-compatible object
 * store. Every command that writes a repository accepts both.
 */
import { ErrorCodes, UpdraftError } from "../../core/errors.js";

/** A repository in an object store: its bucket, and the key prefix it lives under ("" for the bucket's root). */
export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading or trailing slash; "" when the repository is the bucket's root. */
  readonly prefix: string;
}

const S3_SCHEME = "s3://";
/** S3's bucket naming rules (lower-case letters, digits, '.', '-'; 3–63 characters). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** True when `repo` names an object store (`s3://…`) rather than a folder. */
export function isS3Url(repo: string): boolean {
  return repo.toLowerCase().startsWith(S3_SCHEME);
}

/** Parses `s3://BUCKET[/PREFIX]`; throws `USAGE` for a malformed one. */
export function parseS3Url(repo: string): S3Location {
  const rest = repo.slice(S3_SCHEME.length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? "" : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, "");
  const badSegment = prefix.split("/").some((s) => s === "" || s === "." || s === "..");
  if (!isS3Url(repo) || !BUCKET_NAME.test(bucket) || (prefix !== "" && badSegment)) {
    throw new UpdraftError(ErrorCodes.USAGE, `"${repo}" is not a valid s3://BUCKET/PREFIX repository`, {
      hint: "Write it as s3://my-bucket or s3://my-bucket/some/prefix (bucket names: lower-case letters, digits, '.', '-').",
    });
  }
  return { bucket, prefix };
}

/** `location` written back as `s3://BUCKET/PREFIX`. */
export function formatS3Url(location: S3Location): string {
  return `${S3_SCHEME}${location.bucket}${location.prefix === "" ? "" : `/${location.prefix}`}`;
}
