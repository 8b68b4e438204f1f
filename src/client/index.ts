/**
 * The client library's public surface: everything an app needs to keep itself up to date, and
 * nothing of the engines behind it (install layout, locks, the HTTP client stay internal).
 * The package's main entry re-exports this module; the API report records it.
 */

export {
  ERRORS,
  type ErrorCode,
  ErrorCodes,
  type ErrorInternals,
  type ErrorPhase,
  type ErrorSpec,
  type ExitCode,
  ExitCodes,
  exitCodeFor,
  isUpdraftError,
  UpdraftError,
  type UpdraftErrorOptions,
} from "../core/errors.js";
export { compareVersions, isValidVersion } from "../core/version.js";
export { type AppConfig, NATIVE_SCHEMA } from "../formats/native.js";
export type { DeltaFallback } from "./artifacts/choice.js";
export {
  type FirstInstallOptions,
  type FirstInstallResult,
  installFromRepository,
} from "./first-install.js";
export type { Skipped } from "./install/attempts.js";
export type { FileBusy } from "./install/fs-ops.js";
export type { Probation } from "./install/probation.js";
export type { RecoveryReport } from "./install/recover.js";
export type { InstallMode } from "./install/state.js";
export type { DownloadProgress } from "./net/download.js";
export type { FetchFunction, NetworkOptions, TrafficStats } from "./net/http.js";
export type { DispatchOptions, ProxySettings } from "./net/proxy.js";
export type { RetryInfo, RetryOptions } from "./net/retry.js";
export type { NotOfferedReason } from "./trust/choose-release.js";
export {
  type AutoCheckOptions,
  type CheckedChannel,
  type CheckOptions,
  type CheckResult,
  type DownloadedUpdate,
  type DownloadOptions,
  type InstallResult,
  type RestartOptions,
  type StatusResult,
  type Update,
  type UpdateAvailable,
  Updater,
  type UpdaterEvents,
  type UpdaterOptions,
  type UpdateSkipped,
  type UpToDate,
} from "./updater.js";
