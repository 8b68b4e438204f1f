/**
 * What every update source implements, as Velopack's `IUpdateSource`: a source says where it is
 * ({@link SourceOrigin}), tells which release it offers ({@link UpdateSource.latest}, never
 * downloading it), and downloads and verifies that release into files an install engine takes
 * ({@link UpdateSource.stage}). One implementation per backend: a SAAU label and zip, an
 * `update.json`, and Updraft's signed metadata published beside either. The steps every source
 * shares (hold back a version that failed, compare versions, record the source, install through
 * the in-place engine) live once, in ./legacy/apply.ts, and drive any source through this
 * interface.
 */
import type { UpdraftError } from "../../core/errors.js";
import type { InPlaceRelease } from "../install/index.js";
import type { DownloadProgress } from "../net/download.js";

/**
 * The kind of repository a source reads: an Updraft repository (`native`), or a format Updraft
 * migrates from (recorded in `.updraft/source.json` for those).
 */
export type SourceFormat = "native" | "saau" | "update-json";

/** Where a source is, as `updraft status` reports it. */
export interface SourceOrigin {
  format: SourceFormat;
  /** The URL the app updates from (the label's, the `update.json`'s, or the signed repository's). */
  url: string;
  /** The app's name in the source. */
  app: string;
  /** True when the source's releases are verified through Updraft's signed metadata. */
  signed: boolean;
}

/** A release a source offers: its version, and whatever the source needs to fetch it. */
export interface SourceRelease {
  version: string;
  /** True when it was verified through Updraft's signed metadata. */
  signed: boolean;
}

/**
 * A release the source found but cannot offer: its description names a version yet is broken
 * (a damaged SAAU label). That version is held back like a failed install, so a broken release
 * does not make every check fail until the publisher fixes it.
 */
export interface UnusableRelease {
  version: string;
  /** Why it cannot be installed. */
  unusable: UpdraftError;
}

/** What {@link UpdateSource.stage} may be given: a way to cancel it, and download progress. */
export interface StageOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: DownloadProgress) => void) | undefined;
}

/**
 * One backend updates come from. `R` is what it returns for a release and takes back to stage it;
 * `S` is what staging leaves for an install engine: the files of an in-place swap for the legacy
 * sources, the verified artifact the versioned engine unpacks for the native source.
 */
export interface UpdateSource<R extends SourceRelease = SourceRelease, S = InPlaceRelease> {
  /** Where updates come from; recorded at every check, before the source is asked anything. */
  readonly origin: SourceOrigin;
  /**
   * The release the source offers now, whatever the installed version (`installed` is there for
   * sources that choose what to fetch from it, such as a delta). Never downloads the release.
   */
  latest(installed: string): Promise<R | UnusableRelease>;
  /**
   * Downloads and verifies `release` into `workDir` (created; removed by the caller afterwards)
   * and returns the files for the in-place engine. Throws an `UpdraftError` when a file does not
   * match what the source promised; nothing is installed then.
   */
  stage(release: R, workDir: string, options?: StageOptions): Promise<S>;
}

/** True when `found` is a release the source cannot offer. */
export function isUnusable(found: SourceRelease | UnusableRelease): found is UnusableRelease {
  return "unusable" in found;
}
