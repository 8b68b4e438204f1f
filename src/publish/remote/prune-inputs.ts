/**
 * What commands read of a remote repository's targets besides the metadata: the channel documents
 * the top-level role signs (publish places its release in one; prune keeps a release a channel
 * names). `updraft prune` also removes whole release folders, which get stand-ins rather than
 * downloads.
 */
import { relative, sep } from "node:path";
import { appPaths, consistentTargetPath, loadRepository } from "../tuf-repo.js";
import type { WorkingCopy } from "./working-copy.js";

/** Fetches into `copy` the current channel documents of `app` (the targets of its top-level role). */
export async function fetchChannelDocuments(copy: WorkingCopy, app: string): Promise<void> {
  const paths = appPaths(copy.repoDir, app);
  const state = await loadRepository(paths).catch(() => undefined);
  if (!state) return; // the command itself reports a missing or broken repository
  for (const [name, target] of Object.entries(state.targets.signed.targets)) {
    const sha256 = target.hashes.sha256;
    if (sha256 === undefined) continue;
    await copy.fetch(
      relative(copy.repoDir, consistentTargetPath(paths, name, sha256))
        .split(sep)
        .join("/"),
    );
  }
}

/** Fetches the current channel documents of `app` and puts stand-ins for its release files. */
export async function preparePrune(copy: WorkingCopy, app: string): Promise<void> {
  await fetchChannelDocuments(copy, app);
  await copy.standIn(`${app}/targets/releases/`);
}
