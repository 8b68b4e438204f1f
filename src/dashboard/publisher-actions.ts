/**
 * The dashboard's actions carried out by the publisher's release management (`setRollout`,
 * `yankRelease`, `promoteRelease`) with the keys at hand: each signs new channel documents and
 * metadata in the repository folder, exactly as the equivalent CLI command does.
 */
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { compareVersions } from "../core/version.js";
import type { KeySet } from "../publish/keys.js";
import { promoteRelease, type RolloutChange, setRollout, yankRelease } from "../publish/releases.js";
import type { DashboardActions } from "./actions.js";

/** {@link DashboardActions} that sign with `keys` (targets, snapshot, timestamp) in `repoDir`. */
export function publisherActions(repoDir: string, keys: KeySet): DashboardActions {
  // A page may be stale: a change is refused unless it still concerns the release the page showed.
  const rollout = async (app: string, channel: string, version: string, change: RolloutChange) => {
    await setRollout({ repoDir, app, channel, change, keys, expectedVersion: version });
  };
  return {
    setRollout: (app, channel, version, percent) => rollout(app, channel, version, { percent }),
    haltRollout: (app, channel, version, halted) =>
      rollout(app, channel, version, halted ? { halt: true } : { resume: true }),
    promote: async (app, version, _from, to) => {
      await promoteRelease({ repoDir, app, version, to, keys });
    },
    yank: async (app, version, reason) => {
      const result = await yankRelease({ repoDir, app, version, reason, keys });
      if (compareVersions(result.version, version) !== 0) {
        throw new UpdraftError(ErrorCodes.RELEASE_NOT_FOUND, `Yanked ${result.version}, not ${version}`);
      }
    },
  };
}
