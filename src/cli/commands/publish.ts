/**
 * `updraft publish BUILD_DIR --repo DIR --app NAME --version V`: packs a build folder, signs it
 * into the app's repository and moves the channel pointer. Progress goes to stderr.
 */
import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import type { HealthPolicy } from "../../formats/native.js";
import {
  loadKeys,
  ONLINE_ROLES,
  type PublishOptions,
  type PublishProgress,
  publishRelease,
} from "../../publish/index.js";
import { fetchDeltaBases } from "../../publish/remote/index.js";
import { publishSaau } from "../../publish/saau.js";
import { publishUpdateJson } from "../../publish/update-json.js";
import { type CommonOptions, info, onReport, runCommand } from "../output.js";
import {
  duration,
  FILE_CAPS,
  healthPolicy,
  httpUrl,
  path,
  platformName,
  publishedAppName,
  publishedChannelName,
  publishedVersion,
  readOptionFile,
  version,
  wholeNumber,
} from "../parse.js";
import { withRepository } from "../repository-flags.js";

/** Options of `updraft publish`. */
interface PublishCliOptions extends CommonOptions {
  repo: string;
  app: string;
  version: string;
  channel: string;
  notes?: string;
  url?: string;
  force?: boolean;
  level?: number;
  deltas?: number;
  health?: HealthPolicy;
  reportUrl?: string;
  keys?: string;
  s3Endpoint?: string;
  format?: (typeof FORMATS)[number];
  zipExtra?: string[];
  platform?: string;
  critical?: boolean;
  minimumVersion?: string;
  rollout?: string;
  lockWait?: number;
}

/** Publishes natively, or natively plus a legacy package (`--format saau|update-json`). */
function publishInFormat(format: (typeof FORMATS)[number], zipExtras: string[] | undefined, options: PublishOptions) {
  if (format === "saau") return publishSaau({ ...options, ...(zipExtras ? { zipExtras } : {}) });
  if (format === "update-json") return publishUpdateJson(options);
  return publishRelease(options);
}

/** Formats `--format` accepts. */
const FORMATS = ["native", "saau", "update-json"] as const;

/** Progress reporting on stderr: a bar with an ETA on a terminal, one line per step otherwise. */
function progressReporter(opts: CommonOptions): { onProgress: (p: PublishProgress) => void; stop: () => void } {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  let bar: cliProgress.SingleBar | undefined;
  let step = "";
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const startBar = (label: string, total: number) => {
    bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `  ${label.padEnd(10)} [{bar}] {percentage}% {done}/{size} MB, ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, total), 0, { done: mb(0), size: mb(total) });
  };
  const stepOf = (p: PublishProgress) => (p.phase === "delta" ? `delta-${p.delta?.pass ?? "build"}` : p.phase);
  const onProgress = (p: PublishProgress) => {
    if (opts.json) return;
    if (stepOf(p) !== step) {
      stop();
      step = stepOf(p);
      const tty = process.stderr.isTTY;
      if (p.phase === "scan") info(opts, "Scanning the build folder…");
      if (p.phase === "pack") {
        if (tty && p.pack) startBar("packing", p.pack.bytesTotal);
        else info(opts, "Packing and compressing…");
      }
      if (p.phase === "delta") {
        const estimating = p.delta?.pass === "estimate";
        if (tty && p.delta) startBar(estimating ? "estimating" : "deltas", p.delta.bytesTotal);
        else
          info(
            opts,
            estimating
              ? "Estimating deltas from the channel's previous releases…"
              : "Building the deltas that can win…",
          );
      }
      if (p.phase === "sign") info(opts, "Signing metadata…");
    }
    const counts = p.pack ?? p.delta;
    if (bar && counts) {
      bar.setTotal(Math.max(1, counts.bytesTotal));
      bar.update(counts.bytesDone, { done: mb(counts.bytesDone), size: mb(counts.bytesTotal) });
    }
  };
  return { onProgress, stop };
}

/** Registers `updraft publish`. */
export function registerPublish(program: Command): void {
  program
    .command("publish")
    .description("Pack a build folder and publish it as a signed release of an app")
    .argument("<build-dir>", "folder holding the files to release", path)
    .requiredOption("--repo <dir>", "repository folder, or s3://BUCKET/PREFIX", path)
    .requiredOption("--app <name>", "app name (as given to init)", publishedAppName)
    .requiredOption("--version <version>", "release version (semver or dotted numbers)", publishedVersion)
    .option("--channel <name>", "channel to publish to", publishedChannelName, "stable")
    .option("--notes <file>", "text file of release notes", path)
    .option(
      "--health <policy>",
      "how installs judge this version after updating to it: uptime:SECONDS (still running that long, or exited 0), confirm (the app calls confirm), none (default uptime:10)",
      healthPolicy,
    )
    .option("--url <url>", "repository base URL to embed (remembered for later publishes)", httpUrl)
    .option(
      "--report-url <url>",
      "installs send anonymous health reports (installed, confirmed, rolled-back, failed) here, e.g. updraft serve --events's http://host/_events (default: none)",
      httpUrl,
    )
    .option("--force", "replace an existing version, and move the channel even to a lower version")
    .option(
      "--platform <os-arch>",
      "the platform of this build: Node's os-arch (linux-x64, win32-x64, darwin-arm64…) or any (default)",
      platformName,
    )
    .option("--critical", "mark the release critical: clients report critical: true")
    .option(
      "--minimum-version <version>",
      "installs below this version must take this release (check exits 11)",
      version,
    )
    .option("--rollout <steps>", 'start a staged rollout: a percent, or steps like "5%,25%@24h,100%@72h"')
    .option(
      "--lock-wait <seconds>",
      "wait this long for another publish of the app to finish (runners publishing several platforms at once)",
      duration("seconds", 0, 86_400),
    )
    .option("--level <n>", "zstd compression level, 1–22 (default 19)", wholeNumber(1, 22))
    .option(
      "--deltas <k>",
      "build deltas from the channel's last K releases (default 3; 0 for none)",
      wholeNumber(0, 99),
    )
    .option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path)
    .addOption(
      new Option("--format <format>", "also write a legacy package: saau (versao.txt + zip) or update-json")
        .choices(FORMATS)
        .default("native"),
    )
    .option(
      "--zip-extra <file...>",
      "with --format saau: files added to the zip only (e.g. usleep.exe for old clients)",
    )
    .option("--json", "print one JSON document")
    .action(async (buildDir: string, opts: PublishCliOptions) => {
      await runCommand(opts, async () => {
        const { level, deltas } = opts;
        const notes =
          opts.notes === undefined
            ? undefined
            : (await readOptionFile("--notes", opts.notes, FILE_CAPS.notes, "a text file of release notes")).toString(
                "utf8",
              );
        const keys = await loadKeys({ ...(opts.keys ? { dir: opts.keys } : {}), roles: ONLINE_ROLES });
        const reporter = progressReporter(opts);
        const forget = onReport(reporter.stop);
        let result: Awaited<ReturnType<typeof publishRelease>>;
        try {
          const { app, channel, version } = opts;
          const deltaBases = { app, channel, version, platform: opts.platform, count: deltas };
          const publishTo = (repoDir: string) =>
            publishInFormat(opts.format ?? "native", opts.zipExtra, {
              repoDir,
              app: opts.app,
              version: opts.version,
              channel: opts.channel,
              buildDir,
              keys,
              force: opts.force === true,
              onProgress: reporter.onProgress,
              ...(notes !== undefined ? { notes } : {}),
              ...(opts.health !== undefined ? { health: opts.health } : {}),
              ...(opts.url !== undefined ? { url: opts.url } : {}),
              ...(opts.reportUrl !== undefined ? { reportUrl: opts.reportUrl } : {}),
              ...(level !== undefined ? { level } : {}),
              ...(deltas !== undefined ? { deltas } : {}),
              ...(opts.platform !== undefined ? { platform: opts.platform } : {}),
              ...(opts.critical ? { critical: true } : {}),
              ...(opts.minimumVersion !== undefined ? { minimumVersion: opts.minimumVersion } : {}),
              ...(opts.rollout !== undefined ? { rollout: { schedule: opts.rollout } } : {}),
              ...(opts.lockWait !== undefined ? { lockWaitMs: opts.lockWait } : {}),
            });
          result = await withRepository(opts, publishTo, (copy) => fetchDeltaBases(copy, deltaBases));
        } finally {
          forget();
          reporter.stop();
        }
        const lines = [
          `Published ${result.app} ${result.version} on "${result.channel}": ${result.fileCount} files, ` +
            `archive ${(result.archive.size / 1e6).toFixed(2)} MB (${(result.totalBytes / 1e6).toFixed(2)} MB unpacked) ` +
            `in ${(result.timings.totalMs / 1000).toFixed(1)} s.`,
          result.channelNote,
          ...result.deltas.deltas.map(
            (d) =>
              `Delta from ${d.from} (${d.kind}): ${(d.size / 1e3).toFixed(1)} kB, ` +
              `${((100 * d.size) / result.archive.size).toFixed(2)}% of the archive.`,
          ),
          ...result.deltas.skipped.map((d) => `No ${d.kind} delta from ${d.from}: ${d.reason}.`),
          ...(result.url
            ? []
            : ["No repository URL is known: installs of this release cannot find updates (pass --url)."]),
        ];
        return { result: { ...result }, human: lines.join("\n") };
      });
    });
}
