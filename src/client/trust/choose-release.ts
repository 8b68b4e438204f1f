/**
 * The client's decision: which release of a channel document this install should run. One pure
 * function ({@link chooseRelease}), so that 2,000 simulated installs can be put through it:
 * 1. platform: only releases with a build for this install's platform (its own, then `any`);
 * 2. yank: a yanked version is never offered; an install running one is offered the newest
 *    release not yanked, even a lower one (the signed yank list allows that downgrade);
 * 3. minimum version: an install below the newest release's `minimumVersion` must update, whatever
 *    the rollout (a halt still stops it);
 * 4. rollout: the install takes the newest release when its bucket,
 *    `sha256(installId + "\n" + version) mod 10000`, is below `percent × 100`, else the release
 *    before it; a manual check takes it whenever the rollout is above 0 % and not halted;
 * The updater then holds the chosen version back if it failed here recently (back-off): only the
 * chosen release's own failures count, so a required update is never held back by another's.
 */
import { createHash } from "node:crypto";
import { compareVersions } from "../../core/version.js";
import {
  type ChannelDocument,
  type ChannelRelease,
  rolloutPercentAt,
  type YankedRelease,
  yankOf,
} from "../../formats/channel.js";
import { ANY_PLATFORM } from "../../formats/native.js";

/** Buckets of the rollout hash: one bucket is 0.01 % of installs. */
export const ROLLOUT_BUCKETS = 10_000;

/** What {@link chooseRelease} decides from. */
export interface ReleaseChoiceInput {
  readonly document: ChannelDocument;
  /** The installed version (undefined before the first install). */
  readonly installed: string | undefined;
  /** The install's platform (`os-arch`); builds for `any` fit too. */
  readonly platform: string;
  /** The install's random id (see install-id.ts). */
  readonly installId: string;
  readonly now: Date;
  /** A check a person asked for: bypasses a rollout above 0 % that is not halted. */
  readonly manual: boolean;
}

/** Where the install stands in the newest release's rollout. */
export interface RolloutPosition {
  /** The version rolling out (the newest release for this platform). */
  readonly version: string;
  /** Its percent now (0 when halted or before the first step; 100 without a rollout). */
  readonly percent: number;
  readonly halted: boolean;
  /** This install's bucket, 0 to 9,999. */
  readonly bucket: number;
  /** True when this install takes the release (bucket below the percent, a manual check, or a required update). */
  readonly included: boolean;
}

/** Why no release is offered to this install at all. */
export type NotOfferedReason = "no-build-for-platform" | "all-yanked" | "outside-rollout";

/** The decision of {@link chooseRelease}. */
export type ReleaseChoice =
  | {
      readonly kind: "release";
      /** The release this install should run. */
      readonly release: ChannelRelease;
      /** Which of its builds: this install's platform, or `any`. */
      readonly platform: string;
      /** The newest release for this platform (what a check reports as the channel's latest). */
      readonly newest: ChannelRelease;
      /** The installed version is below the newest release's minimum version. */
      readonly required: boolean;
      /** The installed version was yanked: the offer may be lower, and installing it is allowed. */
      readonly installedYank?: YankedRelease;
      readonly rollout: RolloutPosition;
      /** Releases newer than the newest one for this platform that have no build for it (not yanked), newest first. */
      readonly unbuilt: readonly string[];
    }
  | {
      readonly kind: "none";
      readonly reason: NotOfferedReason;
      /** One sentence for people. */
      readonly message: string;
      readonly newest?: ChannelRelease;
      readonly required: boolean;
      readonly installedYank?: YankedRelease;
      readonly rollout?: RolloutPosition;
    };

/** The bucket of an install for a version: `sha256(installId + "\n" + version)` mod {@link ROLLOUT_BUCKETS}. */
export function rolloutBucket(installId: string, version: string): number {
  const digest = createHash("sha256").update(`${installId}\n${version}`).digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(ROLLOUT_BUCKETS));
}

/** The build of `release` an install on `platform` takes: its own, then `any`; undefined when none fits. */
export function buildFor(release: Pick<ChannelRelease, "platforms">, platform: string): string | undefined {
  if (release.platforms.includes(platform)) return platform;
  return release.platforms.includes(ANY_PLATFORM) ? ANY_PLATFORM : undefined;
}

/** Which release of `input.document` this install should run; see the module's comment for the rules. */
export function chooseRelease(input: ReleaseChoiceInput): ReleaseChoice {
  const { document, installed, platform } = input;
  const fitting = document.releases.filter((r) => buildFor(r, platform) !== undefined);
  const installedYank = installed === undefined ? undefined : yankOf(document, installed);
  const yankPart = installedYank ? { installedYank } : {};
  if (fitting.length === 0) {
    const offered = document.releases.map((r) => `${r.version} (${r.platforms.join(", ")})`).join("; ");
    return {
      kind: "none",
      reason: "no-build-for-platform",
      message: `No release of channel "${document.channel}" has a build for ${platform}${offered ? `: it offers ${offered}` : ""}`,
      required: false,
      ...yankPart,
    };
  }
  const live = fitting.filter((r) => yankOf(document, r.version) === undefined);
  const [newest, previous] = live;
  if (newest === undefined) {
    return {
      kind: "none",
      reason: "all-yanked",
      message: `Every release of channel "${document.channel}" for ${platform} was yanked`,
      required: false,
      ...yankPart,
    };
  }
  const minimum = newest.minimumVersion;
  const required = installed !== undefined && minimum !== undefined && compareVersions(installed, minimum) < 0;
  const percent = rolloutPercentAt(newest, input.now);
  const halted = newest.rollout?.halted === true;
  const bucket = rolloutBucket(input.installId, newest.version);
  const included = bucket < percent * 100 || (!halted && (required || (input.manual && percent > 0)));
  const rollout: RolloutPosition = { version: newest.version, percent, halted, bucket, included };
  // Outside the rollout, an install that already runs the newest release keeps it (it took it while included).
  const keepsNewest = installed !== undefined && compareVersions(installed, newest.version) === 0;
  const chosen = included || keepsNewest ? newest : previous;
  if (chosen === undefined) {
    return {
      kind: "none",
      reason: "outside-rollout",
      message: halted
        ? `The rollout of ${newest.version} is halted, and the channel offers no release before it`
        : `This install is outside the ${percent} % rollout of ${newest.version}, and the channel offers no release before it`,
      newest,
      required,
      ...yankPart,
      rollout,
    };
  }
  const unbuilt = document.releases
    .filter((r) => buildFor(r, platform) === undefined && yankOf(document, r.version) === undefined)
    .filter((r) => compareVersions(r.version, newest.version) > 0)
    .map((r) => r.version);
  return {
    kind: "release",
    unbuilt,
    release: chosen,
    platform: buildFor(chosen, platform)!,
    newest,
    required,
    ...yankPart,
    rollout,
  };
}
