/** Mirrors: `updraft mirror sync` copies an app's repository, verified, to a folder or an object store. */
export { type MirrorSyncOptions, type MirrorSyncReport, syncMirror } from "./sync.js";
