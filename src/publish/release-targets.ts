/**
 * What a release target is, read from its name: since layout v2 release targets carry no
 * `custom` field, so version, platform, kind and delta base come from the path
 * (`releases/<version>/<platform>/…`, or the first layout's `releases/<version>/…` for `any`).
 */
import type { TargetFile } from "@tufjs/models";
import { ANY_PLATFORM } from "../formats/native.js";
import { classifyTarget, type ServedFile } from "../formats/served-paths.js";
import type { ReleaseTargets } from "./history.js";

/** A release target's name read back: its kind, version, platform (`any` for the first layout) and base. */
export interface ReleaseTargetInfo {
  kind: "manifest" | "manifest-patch" | "full" | "delta";
  version: string;
  platform: string;
  /** Deltas and manifest patches: the version they start from. */
  from?: string;
  /** Deltas: their encoding. */
  deltaKind?: string;
}

const RELEASE_KINDS: ReadonlySet<ServedFile["kind"]> = new Set(["manifest", "manifest-patch", "full", "delta"]);

/** What the target `name` of `app` is, or undefined when it is not a release target. */
export function releaseTargetInfo(app: string, name: string): ReleaseTargetInfo | undefined {
  const file = classifyTarget(app, name);
  if (file?.version === undefined || !RELEASE_KINDS.has(file.kind)) return undefined;
  return {
    kind: file.kind as ReleaseTargetInfo["kind"],
    version: file.version,
    platform: file.platform ?? ANY_PLATFORM,
    ...(file.from !== undefined ? { from: file.from } : {}),
    ...(file.deltaKind !== undefined ? { deltaKind: file.deltaKind } : {}),
  };
}

/** The builds of a release: platform → the target name of its manifest. */
export function buildsOfRelease(app: string, release: ReleaseTargets): Map<string, string> {
  const builds = new Map<string, string>();
  for (const name of Object.keys(release.targets)) {
    const info = releaseTargetInfo(app, name);
    if (info?.kind === "manifest") builds.set(info.platform, name);
  }
  return builds;
}

/** `targets` without those of the build for `platform`. */
export function withoutBuild(app: string, targets: Record<string, TargetFile>, platform: string) {
  return Object.fromEntries(
    Object.entries(targets).filter(([name]) => releaseTargetInfo(app, name)?.platform !== platform),
  ) as Record<string, TargetFile>;
}
