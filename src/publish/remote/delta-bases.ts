/**
 * What a publish reads beyond the metadata: the manifests and full archives of the releases it
 * builds deltas from. Chosen by the publisher's own rule (`previousReleases`), so a working copy
 * of a remote repository holds exactly those.
 */
import { relative, sep } from "node:path";
import { DEFAULT_DELTA_PREVIOUS } from "../delta/build-deltas.js";
import { previousReleases } from "../delta/old-releases.js";
import { loadHistory, releaseTargetMap } from "../history.js";
import { appPaths, loadRepository } from "../tuf-repo.js";
import type { WorkingCopy } from "./working-copy.js";

/** Which release a publish adds: its app, channel and version, and how many delta bases (default 3). */
export interface DeltaBaseQuery {
  app: string;
  channel: string;
  version: string;
  /** Delta bases (`publish --deltas`); default as the publisher's. */
  count?: number | undefined;
}

/** Fetches into `copy` the manifests and archives that publishing `query` builds deltas from. */
export async function fetchDeltaBases(copy: WorkingCopy, query: DeltaBaseQuery): Promise<void> {
  const count = query.count ?? DEFAULT_DELTA_PREVIOUS;
  if (count <= 0) return;
  const paths = appPaths(copy.repoDir, query.app);
  const state = await loadRepository(paths).catch(() => undefined);
  if (!state) return; // the publish itself reports a missing or broken repository
  // Every release the repository signs, wherever it sits (newest slots or archive bins), as publish sees them.
  const targets = releaseTargetMap(await loadHistory(state));
  await previousReleases(paths, targets, query.channel, query.version, count, (path) =>
    copy.fetch(relative(copy.repoDir, path).split(sep).join("/")),
  );
}
