/**
 * Health events: the SQLite database `updraft serve --events` fills with installs' reports, and
 * the failure rates read from it.
 * @packageDocumentation
 */
export { type ReleaseHealth, releaseHealth } from "./health.js";
export { type EventStore, openEventStore, type StoredReport } from "./store.js";
