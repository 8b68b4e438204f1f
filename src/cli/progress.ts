/**
 * Download progress on stderr: a bar on a terminal, a plain line per tenth of the download
 * otherwise (logs, CI), so that a long download is never silent.
 */
import cliProgress from "cli-progress";
import type { DownloadProgress } from "../client/net/download.js";
import { onReport } from "./output.js";

/** A progress callback, and `stop` to call when the download is over (also done on interruption). */
export interface ProgressReporter {
  onProgress: (p: DownloadProgress) => void;
  stop: () => void;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

function bar(): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "  downloading [{bar}] {percentage}% {done}/{size} MB {speed} MB/s",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (p) => {
      const payload = { done: mb(p.transferred), size: mb(p.total), speed: mb(p.bytesPerSecond) };
      if (!started) {
        bar.start(p.total, p.transferred, payload);
        started = true;
      } else bar.update(p.transferred, payload);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

function lines(): ProgressReporter {
  let lastTenth = -1;
  return {
    onProgress: (p) => {
      const tenth = p.total > 0 ? Math.floor((10 * p.transferred) / p.total) : 0;
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      process.stderr.write(
        `  downloading ${tenth * 10}% ${mb(p.transferred)}/${mb(p.total)} MB ${mb(p.bytesPerSecond)} MB/s\n`,
      );
    },
    stop: () => {},
  };
}

/** Progress of one download; silent when `enabled` is false (`--json`). */
export function downloadProgress(enabled: boolean): ProgressReporter {
  if (!enabled) return { onProgress: () => {}, stop: () => {} };
  const reporter = process.stderr.isTTY ? bar() : lines();
  const forget = onReport(reporter.stop);
  return {
    onProgress: reporter.onProgress,
    stop: () => {
      forget();
      reporter.stop();
    },
  };
}
