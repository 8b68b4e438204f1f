/**
 * Updraft's client library: keep an installed app up to date from a TUF-signed repository.
 * The python-autoupdate facade is the separate entry `updraft-updater/compat`.
 *
 * @example
 * ```ts
 * import { Updater } from "updraft-updater";
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

export * from "./client/index.js";
