/**
 * Release management: `updraft rollout`, `updraft yank`, `updraft promote` and `updraft releases`.
 * Each change rewrites channel documents and signs new metadata; no release file is uploaded again.
 */
import type { Command } from "commander";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { openEventStore } from "../../events/index.js";
import {
  listReleases,
  loadKeys,
  ONLINE_ROLES,
  promoteRelease,
  type RolloutAdvance,
  type RolloutChange,
  setRollout,
  yankRelease,
} from "../../publish/index.js";
import { fetchChannelDocuments } from "../../publish/remote/index.js";
import { type CommonOptions, runCommand } from "../output.js";
import { appName, channelName, path, percent, version, wholeNumber } from "../parse.js";
import { withRepository } from "../repository-flags.js";

/** Options every release-management command takes. */
interface RepoOptions extends CommonOptions {
  repo: string;
  app: string;
  keys?: string;
}

/** Adds `--repo`, `--app` and (for changes) `--keys` and `--json`. */
function repoCommand(program: Command, name: string, description: string, signs: boolean): Command {
  const command = program
    .command(name)
    .description(description)
    .requiredOption("--repo <dir>", signs ? "repository folder, or s3://BUCKET/PREFIX" : "repository folder", path)
    .requiredOption("--app <name>", "app name", appName);
  if (signs)
    command.option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path);
  return command.option("--json", "print one JSON document");
}

function onlineKeys(opts: RepoOptions) {
  return loadKeys({ ...(opts.keys ? { dir: opts.keys } : {}), roles: ONLINE_ROLES });
}

/** The one rollout change the options ask for; `USAGE` unless exactly one is given. */
function rolloutChange(opts: RolloutOptions): RolloutChange {
  const changes: RolloutChange[] = [
    ...(opts.percent !== undefined ? [{ percent: opts.percent }] : []),
    ...(opts.schedule !== undefined ? [{ schedule: opts.schedule }] : []),
    ...(opts.halt ? [{ halt: true as const }] : []),
    ...(opts.resume ? [{ resume: true as const }] : []),
    ...(opts.advance ? [{ advance: advanceOf(opts) }] : []),
  ];
  if (changes.length !== 1) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      "Give exactly one of --percent, --schedule, --halt, --resume or --advance",
      {
        hint: 'For example: updraft rollout --repo R --app A --channel stable --schedule "5%,25%@24h,100%@72h"',
      },
    );
  }
  return changes[0]!;
}

/** `--advance` with the health reports of `--events` and the limit of `--max-failure-rate`. */
function advanceOf(opts: RolloutOptions): RolloutAdvance {
  if (opts.events === undefined || opts.maxFailureRate === undefined) {
    throw new UpdraftError(ErrorCodes.USAGE, "--advance needs --events DB and --max-failure-rate P%", {
      hint: "For example: updraft rollout --repo R --app A --channel stable --advance --events events.db --max-failure-rate 2%",
    });
  }
  const store = openEventStore(opts.events, { readOnly: true });
  try {
    return {
      reports: store.reports(opts.app),
      maxFailureRate: opts.maxFailureRate / 100,
      ...(opts.minReports !== undefined ? { minReports: opts.minReports } : {}),
    };
  } finally {
    store.close();
  }
}

/** Options of `updraft rollout`. */
interface RolloutOptions extends RepoOptions {
  channel: string;
  percent?: number;
  schedule?: string;
  halt?: boolean;
  resume?: boolean;
  advance?: boolean;
  events?: string;
  maxFailureRate?: number;
  minReports?: number;
}

/** Registers `rollout`, `yank`, `promote` and `releases`. */
export function registerReleaseCommands(program: Command): void {
  repoCommand(
    program,
    "rollout",
    "Set, schedule, halt or resume the staged rollout of a channel's newest release",
    true,
  )
    .requiredOption("--channel <name>", "channel whose newest release rolls out", channelName)
    .option("--percent <n>", "offer it to this share of installs from now on (0–100)", percent)
    .option("--schedule <steps>", 'steps with delays from now, e.g. "5%,25%@24h,100%@72h" (m, h or d)')
    .option("--halt", "stop every new install of the release now")
    .option("--resume", "resume a halted rollout where its schedule stands")
    .option(
      "--advance",
      "from health reports (--events): halt the rollout above --max-failure-rate, else move it to its next step now",
    )
    .option("--events <db>", "with --advance: the health reports database of `updraft serve --events`", path)
    .option(
      "--max-failure-rate <p>",
      "with --advance: highest share of installs that roll back or fail, e.g. 2%",
      percent,
    )
    .option(
      "--min-reports <n>",
      "with --advance: reports needed before moving past the first step (default 10)",
      wholeNumber(1, 1_000_000),
    )
    .action(async (opts: RolloutOptions) => {
      await runCommand(opts, async () => {
        const change = rolloutChange(opts);
        const result = await withRepository(
          opts,
          async (repoDir) =>
            setRollout({
              repoDir,
              app: opts.app,
              channel: opts.channel,
              change,
              keys: await onlineKeys(opts),
            }),
          (copy) => fetchChannelDocuments(copy, opts.app),
        );
        const steps = result.rollout.steps.map((s) => `${s.percent}% from ${s.at}`).join(", ");
        const advice = result.advance ? `${result.advance.decision.action}: ${result.advance.decision.reason}.\n` : "";
        const human =
          advice +
          (result.rollout.halted
            ? `The rollout of ${result.version} on "${result.channel}" is halted: no new install takes it.`
            : `${result.version} on "${result.channel}" goes to ${result.percentNow}% of installs now (${steps}).`);
        return { result: { ...result }, human };
      });
    });

  repoCommand(program, "yank", "Pull a release back: never offered again, and installs running it go back", true)
    .requiredOption("--version <version>", "the version to yank", version)
    .option("--reason <text>", "why (installs show it)")
    .action(async (opts: RepoOptions & { version: string; reason?: string }) => {
      await runCommand(opts, async () => {
        const result = await withRepository(
          opts,
          async (repoDir) =>
            yankRelease({
              repoDir,
              app: opts.app,
              version: opts.version,
              keys: await onlineKeys(opts),
              ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
            }),
          (copy) => fetchChannelDocuments(copy, opts.app),
        );
        const lines = [
          `Yanked ${result.version} of "${result.app}" on ${result.channels.map((c) => `"${c}"`).join(", ")}.`,
          ...result.fallbacks.map((f) =>
            f.version === undefined
              ? `Channel "${f.channel}" offers no release now: publish a fixed one.`
              : `Channel "${f.channel}" falls back to ${f.version}; installs running ${result.version} go back to it.`,
          ),
        ];
        return { result: { ...result }, human: lines.join("\n") };
      });
    });

  repoCommand(program, "promote", "Offer a published release on another channel, without uploading it again", true)
    .requiredOption("--version <version>", "the version to promote", version)
    .requiredOption("--to <channel>", "the channel that offers it from now on", channelName)
    .option("--force", "offer it even when the channel's newest release is higher")
    .action(async (opts: RepoOptions & { version: string; to: string; force?: boolean }) => {
      await runCommand(opts, async () => {
        const result = await withRepository(
          opts,
          async (repoDir) =>
            promoteRelease({
              repoDir,
              app: opts.app,
              version: opts.version,
              to: opts.to,
              force: opts.force === true,
              keys: await onlineKeys(opts),
            }),
          (copy) => fetchChannelDocuments(copy, opts.app),
        );
        const human = `Channel "${result.channel}" offers ${result.version} (${result.platforms.join(", ")})${result.previousVersion ? `; it offered ${result.previousVersion}` : ""}.`;
        return { result: { ...result }, human };
      });
    });

  repoCommand(
    program,
    "releases",
    "List every release: channels, platforms, sizes, deltas, rollouts, yanks",
    false,
  ).action(async (opts: RepoOptions) => {
    await runCommand(opts, async () => {
      const result = await listReleases({ repoDir: opts.repo, app: opts.app });
      const lines = result.releases.map((r) => {
        const builds = r.builds.map(
          (b) =>
            `${b.platform} ${(b.fullSize / 1e6).toFixed(2)} MB${b.deltas.length ? ` + ${b.deltas.length} delta(s)` : ""}`,
        );
        const channels = r.channels.map(
          (c) =>
            `${c.channel}${c.newest ? "*" : ""}${c.rollout ? ` ${c.rollout.halted ? "halted" : `${c.percentNow}%`}` : ""}${c.critical ? " critical" : ""}${c.minimumVersion ? ` min ${c.minimumVersion}` : ""}`,
        );
        const yank = r.yanked ? ` YANKED${r.yanked.reason ? ` (${r.yanked.reason})` : ""}` : "";
        return `${r.version}${yank}  [${channels.join(", ") || "no channel"}]  ${builds.join("; ")}`;
      });
      return { result: { ...result }, human: lines.length ? lines.join("\n") : `No release of "${result.app}" yet.` };
    });
  });
}
