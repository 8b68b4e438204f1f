/**
 * Updraft's client library: keep an installed app up to date from a TUF-signed repository.
 *
 * @example
 * ```ts
 * import { Updater } from "updraft";
 * const updater = new Updater({ installDir: "/opt/myapp" });
 * const result = await updater.check();
 * if (result.status === "available") {
 *   const downloaded = await updater.download(result.update, {
 *     onProgress: (p) => console.log(`${p.percent.toFixed(0)}%`),
 *   });
 *   await updater.install(downloaded);
 *   await updater.restart();
 * }
 * ```
 * @packageDocumentation
 */

export {
  type FirstInstallOptions,
  type FirstInstallResult,
  installFromRepository,
} from "./client/first-install.js";
export {
  type AutoCheckOptions,
  type CheckResult,
  type DeltaFallback,
  type DownloadedUpdate,
  type DownloadOptions,
  type DownloadProgress,
  type FetchFunction,
  type InstallResult,
  type NetworkOptions,
  type RecoveryReport,
  type RestartOptions,
  type Skipped,
  type StatusResult,
  type TrafficStats,
  type Update,
  type UpdateAvailable,
  Updater,
  type UpdaterEvents,
  type UpdaterOptions,
  type UpdateSkipped,
  type UpToDate,
} from "./client/updater.js";
export { Autoupdate, type AutoupdateOptions } from "./compat/autoupdate.js";
export { type ErrorCode, ErrorCodes, ExitCodes, isUpdraftError, UpdraftError } from "./core/errors.js";
export { compareVersions, isValidVersion } from "./core/version.js";
