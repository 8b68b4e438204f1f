/**
 * What `updraft prune` reads and removes in a working copy of a remote repository: it reads the
 * channel documents the top-level role signs (a release a channel names is kept), and it removes
 * whole release folders, which get stand-ins rather than downloads.
 */
import { relative, sep } from "node:path";
import { appPaths, consistentTargetPath, loadRepository } from "../tuf-repo.js";
import type { WorkingCopy } from "./working-copy.js";

/** Fetches the current channel documents of `app` and puts stand-ins for its release files. */
export async function preparePrune(copy: WorkingCopy, app: string): Promise<void> {
  const paths = appPaths(copy.repoDir, app);
  const state = await loadRepository(paths).catch(() => undefined);
  if (!state) return; // prune itself reports a missing or broken repository
  for (const [name, target] of Object.entries(state.targets.signed.targets)) {
    const sha256 = target.hashes.sha256;
    if (sha256 === undefined) continue;
    await copy.fetch(
      relative(copy.repoDir, consistentTargetPath(paths, name, sha256))
        .split(sep)
        .join("/"),
    );
  }
  await copy.standIn(`${app}/targets/releases/`);
}
