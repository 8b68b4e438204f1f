/**
 * `Cache-Control` and `Content-Type` for repository files: the formats' one rule (see
 * src/formats/served-headers.ts), which the publisher's uploads to object stores use too.
 */
export { cacheControlFor, contentTypeFor } from "../formats/served-headers.js";
