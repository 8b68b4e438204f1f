/**
 * The stage producers the updater installs with: a delta with a fall-back to the full archive
 * (on any error but a cancellation), and the full archive alone. Both record the new tree's stat
 * identities so the next update's check of the installed tree hashes nothing.
 */
import { ErrorCodes, toUpdraftError, UpdraftError } from "../../../core/errors.js";
import { removePath } from "../../../core/fs.js";
import type { ReleaseManifest } from "../../../formats/native.js";
import type { InstallLayout } from "../../install/layout.js";
import type { StageProducer } from "../../install/versioned.js";
import { fromDelta } from "./apply.js";
import { identitiesOf, writeTreeCache } from "./tree-check.js";

/** A delta to install, and how to get the full archive if it fails. */
export interface DeltaWithFallbackOptions {
  layout: InstallLayout;
  /** The installed release's manifest; undefined when it is not the delta's starting point. */
  installed: ReleaseManifest | undefined;
  manifest: ReleaseManifest;
  deltaPath: string;
  kind: string;
  /** Downloads the full archive (when needed) and returns its producer, which records the tree ({@link recordingTree}). */
  full: () => Promise<StageProducer>;
  /** Told why the delta was abandoned, before the full archive is fetched. */
  onFallback: (reason: string) => void;
}

/** Records the tree cache of `manifest` for the staged tree (its identities survive the rename into place). */
async function recordCache(
  layout: InstallLayout,
  manifest: ReleaseManifest,
  stagingDir: string,
  known?: Map<string, string>,
): Promise<void> {
  const identities = known ?? (await identitiesOf(stagingDir, manifest.files));
  await writeTreeCache(layout, manifest, identities).catch(() => undefined);
}

/** Wraps a full-archive producer so the installed tree's check is cached. */
export function recordingTree(layout: InstallLayout, manifest: ReleaseManifest, inner: StageProducer): StageProducer {
  return async (stagingDir) => {
    const stats = await inner(stagingDir);
    await recordCache(layout, manifest, stagingDir, stats.identities);
    return stats;
  };
}

/** Applies the delta; on any failure but a cancellation, empties the staging folder and uses the full archive. */
export function deltaWithFallback(options: DeltaWithFallbackOptions): StageProducer {
  return async (stagingDir) => {
    let identities: Map<string, string> | undefined;
    try {
      if (!options.installed) {
        throw new UpdraftError(
          ErrorCodes.DELTA_BASE_MISMATCH,
          "The installed version is not the one the delta starts from",
        );
      }
      const stats = await fromDelta({
        layout: options.layout,
        installed: options.installed,
        manifest: options.manifest,
        deltaPath: options.deltaPath,
        kind: options.kind,
        onIdentities: (ids) => {
          identities = ids;
        },
      })(stagingDir);
      await recordCache(options.layout, options.manifest, stagingDir, identities);
      return stats;
    } catch (err) {
      const error = toUpdraftError(err);
      if (error.code === ErrorCodes.ABORTED || error.code === ErrorCodes.DISK_FULL) throw error;
      await removePath(stagingDir);
      const reason = `${error.code}: ${error.message}`;
      options.onFallback(reason);
      const full = await options.full();
      return full(stagingDir);
    }
  };
}
