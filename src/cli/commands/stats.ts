/**
 * `updraft stats LOG… [--json] [--since DATE]`: adoption figures from access logs, per day (UTC)
 * and app: checks, update downloads by from→to version, bytes served, the share of deltas and the
 * bytes they saved. Reads `updraft serve --access-log` files (JSON lines) and nginx's default
 * `combined` format, so a repository hosted elsewhere gives the same numbers.
 */
import type { Command } from "commander";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { type DayStats, type LoggedRequest, readAccessLog, summarizeAccessLog } from "../../server/index.js";
import { type CommonOptions, runCommand } from "../output.js";
import { path } from "../parse.js";

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function render(stats: readonly DayStats[]): string {
  if (stats.length === 0) return "No requests for published files in these logs.";
  const lines: string[] = [];
  for (const s of stats) {
    lines.push(
      `${s.day} ${s.app}: ${s.checks} checks, ${s.downloads} downloads (${s.deltaDownloads} delta, ${s.fullDownloads} full, ` +
        `${Math.round(s.deltaShare * 100)}% delta), ${megabytes(s.bytesServed)} served, ${megabytes(s.bytesSavedByDeltas)} saved by deltas`,
    );
    for (const [transition, count] of Object.entries(s.byVersion).sort()) lines.push(`  ${transition}: ${count}`);
  }
  return lines.join("\n");
}

/** Registers `updraft stats`. */
export function registerStats(program: Command): void {
  program
    .command("stats")
    .description("Adoption figures per day and app from access logs (updraft serve --access-log, or nginx combined)")
    .argument("<log...>", "access log files", (value: string, previous: string[] = []) => [...previous, path(value)])
    .option("--since <date>", "only days from this date (YYYY-MM-DD, UTC)")
    .option("--json", "print one JSON document")
    .action(async (logs: string[], opts: CommonOptions & { since?: string }) => {
      await runCommand(opts, async () => {
        if (opts.since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(opts.since)) {
          throw new UpdraftError(ErrorCodes.USAGE, `--since ${opts.since} is not a date`, { hint: "Use YYYY-MM-DD." });
        }
        const requests: LoggedRequest[] = [];
        let skippedLines = 0;
        for (const log of logs) skippedLines += await readAccessLog(log, requests);
        const since = opts.since;
        const days = summarizeAccessLog(since === undefined ? requests : requests.filter((r) => r.day >= since));
        return { result: { days, skippedLines }, human: render(days) };
      });
    });
}
