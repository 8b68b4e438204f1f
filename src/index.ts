/**
 * Updraft's client library: keep an installed app up to date from a TUF-signed repository.
 * The python-autoupdate facade is the separate entry `updraft-updater/compat`.
 *
 * @example
 * ```ts
 * import { Updater } from "updraft-updater";
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

export * from "./client/index.js";
