/**
 * The install engines' face for the update sources (and the compat facade that drives them):
 * a source stages a release and hands it over here; the rest of this folder (journal, pointer,
 * disk, the versioned engine's internals) is the engines' own business.
 */
export {
  backoffFor,
  DEFAULT_BACKOFF_MS,
  recordAttempt,
  recordFailure,
  recordIfReleaseFault,
  recordSuccess,
  type Skipped,
} from "./attempts.js";
export { assertFreeSpace } from "./disk.js";
export {
  applyPreparedInPlace,
  type InPlaceFile,
  type InPlaceOutcome,
  type InPlaceRelease,
  installInPlace,
  prepareInPlace,
  rollbackInPlace,
} from "./in-place.js";
export { type InstallLayout, installLayout } from "./layout.js";
export { confirm, recover } from "./recover.js";
export { readState, updateState } from "./state.js";
