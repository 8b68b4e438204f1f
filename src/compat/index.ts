/**
 * python-autoupdate's API on Updraft's engine, for teams porting code: the package's `compat` entry.
 *
 * @example
 * ```ts
 * import { Autoupdate } from "updraft-updater/compat";
 * const updater = new Autoupdate({ appName: "YourAppName", currentVersion: "1.0.0",
 *   updateUrl: "https://example.com/updates/" });
 * if ((await updater.checkForUpdates()) && (await updater.downloadUpdates())) await updater.applyUpdates();
 * ```
 * @packageDocumentation
 */

export {
  type DispatchOptions,
  ERRORS,
  type ErrorCode,
  ErrorCodes,
  type ErrorInternals,
  type ErrorPhase,
  type ErrorSpec,
  type ExitCode,
  ExitCodes,
  exitCodeFor,
  type FetchFunction,
  isUpdraftError,
  type NetworkOptions,
  type ProxySettings,
  type RetryInfo,
  type RetryOptions,
  UpdraftError,
  type UpdraftErrorOptions,
} from "../client/index.js";
export type { InPlaceOutcome, Skipped } from "../client/install/index.js";
export { Autoupdate, type AutoupdateOptions } from "./autoupdate.js";
