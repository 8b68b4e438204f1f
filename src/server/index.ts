/**
 * The embedded static server for an Updraft repository (`updraft serve`).
 *
 * A repository is a folder of static files (see docs/format.md); any static host can serve it
 * (see docs/serving.md). This server adds nothing to the format: it answers GET and HEAD with
 * strong `ETag`s, `Last-Modified`, conditional requests, single byte ranges and the cache rules
 * the layout calls for, and refuses anything outside the folder.
 *
 * @example
 * ```ts
 * const server = createRepositoryServer({ root: "./repo", port: 8080 });
 * const { url } = await server.listen();
 * // …
 * await server.close();
 * ```
 * @packageDocumentation
 */

export {
  CACHE_IMMUTABLE,
  CACHE_MUTABLE,
  cacheControlOf,
  classifyServedPath,
  type ServedFile,
  type ServedFileKind,
} from "../formats/served-paths.js";
export {
  type AccessLogRecord,
  type AccessLogWriter,
  type DayStats,
  type LoggedRequest,
  openAccessLog,
  readAccessLog,
  summarizeAccessLog,
} from "./access-log.js";
export { HEALTH_EVENTS_PATH, type HealthEventsOptions } from "./health-events.js";
export type { AccessLogOptions, RequestLogEntry, ServerLogger } from "./request-handler.js";
export { cacheControlFor, contentTypeFor } from "./response-headers.js";
export type {
  CloseOptions,
  ListeningAddress,
  RepositoryServer,
  RepositoryServerOptions,
  TlsOptions,
} from "./static-server.js";
export { createRepositoryServer } from "./static-server.js";
