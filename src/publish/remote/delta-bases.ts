/**
 * What a publish reads beyond the metadata: the manifests and full archives of the releases it
 * builds deltas from. Chosen by the publisher's own rule (`previousReleases`), so a working copy
 * of a remote repository holds exactly those.
 */
import { relative, sep } from "node:path";
import { ANY_PLATFORM } from "../../formats/native.js";
import { DEFAULT_DELTA_PREVIOUS } from "../delta/build-deltas.js";
import { previousReleases } from "../delta/old-releases.js";
import { loadHistory, releaseTargetMap } from "../history.js";
import { appPaths, loadRepository } from "../tuf-repo.js";
import { fetchChannelDocuments } from "./prune-inputs.js";
import type { WorkingCopy } from "./working-copy.js";

/** Which build a publish adds: its app, channel, version and platform, and how many delta bases (default 3). */
export interface DeltaBaseQuery {
  app: string;
  channel: string;
  version: string;
  /** The build's platform (`publish --platform`); default `any`. */
  platform?: string | undefined;
  /** Delta bases (`publish --deltas`); default as the publisher's. */
  count?: number | undefined;
}

/**
 * Fetches into `copy` what publishing `query` reads: the channel documents (the release is placed
 * in one), and the manifests and archives it builds deltas from.
 */
export async function fetchDeltaBases(copy: WorkingCopy, query: DeltaBaseQuery): Promise<void> {
  await fetchChannelDocuments(copy, query.app);
  const count = query.count ?? DEFAULT_DELTA_PREVIOUS;
  if (count <= 0) return;
  const paths = appPaths(copy.repoDir, query.app);
  const state = await loadRepository(paths).catch(() => undefined);
  if (!state) return; // the publish itself reports a missing or broken repository
  // Every release the repository signs, wherever it sits (newest slots or archive bins), as publish sees them.
  const targets = releaseTargetMap(await loadHistory(state));
  const { channel, version } = query;
  await previousReleases(
    paths,
    targets,
    { channel, platform: query.platform ?? ANY_PLATFORM, version, count },
    (path) => copy.fetch(relative(copy.repoDir, path).split(sep).join("/")),
  );
}
