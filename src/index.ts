/**
 * Updraft's client library: keep an installed app up to date from a TUF-signed repository.
 *
 * @example
 * ```ts
 * import { Updater } from "updraft";
 * const updater = new Updater({ installDir: "/opt/myapp" });
 * const { updateAvailable } = await updater.check();
 * if (updateAvailable) {
 *   await updater.download({ onProgress: (p) => console.log(`${p.percent.toFixed(0)}%`) });
 *   await updater.install();
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
  type CheckResult,
  type DownloadProgress,
  type DownloadResult,
  type FetchFunction,
  type InstallResult,
  type RestartOptions,
  type StatusResult,
  type TrafficStats,
  type UpdateInfo,
  Updater,
  type UpdaterEvents,
  type UpdaterOptions,
} from "./client/updater.js";
export { Autoupdate, type AutoupdateOptions } from "./compat/autoupdate.js";
export { type ErrorCode, ErrorCodes, ExitCodes, isUpdraftError, UpdraftError } from "./core/errors.js";
export { compareVersions, isValidVersion } from "./core/version.js";
