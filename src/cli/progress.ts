/** A download progress bar on a terminal (stderr), silent otherwise. */
import cliProgress from "cli-progress";
import type { DownloadProgress } from "../client/download.js";

/** Returns a progress callback and a `stop` to call when done. */
export function progressBar(enabled: boolean): { onProgress: (p: DownloadProgress) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { onProgress: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "  downloading [{bar}] {percentage}% {done}/{size} MB {speed} MB/s",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const mb = (n: number) => (n / 1e6).toFixed(1);
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
    },
  };
}
