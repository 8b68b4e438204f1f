/**
 * Chooses what to download for an update: the smallest artifact this install can apply, by the
 * sizes in the signed manifest. A delta qualifies when it starts from the installed version, is a
 * kind this client reads, is smaller than the full archive, the installed tree is intact (checked
 * against its manifest, see delta/tree-check.ts) and the signed targets metadata agrees with the
 * manifest on it. Otherwise the full archive is chosen, and the reason a delta was passed over is
 * reported.
 */
import { readLocalJson } from "../../core/fs.js";
import { DELTA_KINDS } from "../../formats/delta.js";
import { type ArtifactRef, parseReleaseManifest, type ReleaseManifest } from "../../formats/native.js";
import type { InstallLayout } from "../install/layout.js";
import type { TrustSession } from "../trust/session.js";
import { checkInstalledTree } from "./delta/tree-check.js";

/** Why a delta was not used: emitted as the updater's `delta-fallback` event. */
export interface DeltaFallback {
  /** The installed version the delta would have started from. */
  from: string;
  /**
   * Why, in words for a log (not a stable format): for example that installed files differ from
   * their signed manifest, or the error that ended the delta's download or application.
   */
  reason: string;
}

/** Delta kinds this client applies. */
export const SUPPORTED_DELTA_KINDS: ReadonlySet<string> = new Set(DELTA_KINDS);

/**
 * The smallest artifact of `manifest` usable from `currentVersion`: deltas from that version of a
 * supported kind, or the full archive. Ties go to the full archive.
 */
export function smallestArtifact(
  manifest: ReleaseManifest,
  currentVersion: string | undefined,
  supported: ReadonlySet<string> = SUPPORTED_DELTA_KINDS,
): ArtifactRef | undefined {
  let best = manifest.artifacts.find((a) => a.kind === "full");
  for (const a of manifest.artifacts) {
    if (a.kind === "full" || a.from === undefined || a.from !== currentVersion || !supported.has(a.kind)) continue;
    if (!best || a.size < best.size) best = a;
  }
  return best;
}

/** An artifact of a release and the URL it is served at (checked against the signed targets metadata). */
export interface LocatedArtifact {
  readonly ref: ArtifactRef;
  readonly url: string;
}

/** What {@link chooseUpdateArtifact} needs from the updater. */
export interface ChoiceContext {
  layout: InstallLayout;
  trust: TrustSession;
  currentVersion: string | undefined;
  onFallback: (fallback: DeltaFallback) => void;
}

/** The signed manifest kept for installed `version`, or undefined when none is (or it is unreadable). */
export async function installedManifest(layout: InstallLayout, version: string): Promise<ReleaseManifest | undefined> {
  try {
    const file = layout.manifestFile(version);
    return parseReleaseManifest(await readLocalJson(file), file);
  } catch {
    return undefined;
  }
}

/**
 * Picks the artifact to download for `manifest`: a delta when one qualifies, else `full` (the full
 * archive, already checked against the signed metadata). Checks the installed tree only when a
 * delta would be chosen, so a current install costs nothing.
 */
export async function chooseUpdateArtifact(
  ctx: ChoiceContext,
  manifest: ReleaseManifest,
  full: LocatedArtifact,
): Promise<LocatedArtifact> {
  const delta = smallestArtifact(manifest, ctx.currentVersion);
  if (!delta || delta.kind === "full" || ctx.currentVersion === undefined) return full;
  const from = ctx.currentVersion;
  const skip = (reason: string) => {
    ctx.onFallback({ from, reason });
    return full;
  };
  const installed = await installedManifest(ctx.layout, from);
  if (!installed || installed.version !== from) return skip(`no signed manifest of the installed ${from} is kept`);
  const check = await checkInstalledTree(ctx.layout, installed);
  if (check.modified.length > 0) {
    const shown = check.modified.slice(0, 3).map((p) => `"${p}"`);
    return skip(
      `${check.modified.length} installed file(s) differ from ${from}'s manifest (${shown.join(", ")}${check.modified.length > 3 ? ", …" : ""})`,
    );
  }
  const info = await ctx.trust.targetInfo(delta.target).catch(() => undefined);
  if (!info || info.length !== delta.size || info.hashes.sha256 !== delta.sha256) {
    return skip(`the signed targets metadata does not list ${delta.target} as the manifest does`);
  }
  return { ref: delta, url: ctx.trust.targetUrl(info) };
}
