/**
 * The client side of the benchmark, run as its own process so its peak RSS is its own:
 * `node dist/bench/client-update.js <update|check|download> --dir DIR [--repo-url URL]`.
 * Prints one JSON document with timings, traffic and `process.resourceUsage().maxRSS`.
 */
import type { DeltaFallback } from "../src/client/artifacts/choice.js";
import { Updater } from "../src/client/updater.js";
import { runMain } from "./lib/exec.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const installDir = arg("--dir");
  if (!installDir || !["update", "check", "download"].includes(mode ?? "")) {
    throw new Error("usage: client-update <update|check|download> --dir DIR [--repo-url URL]");
  }
  const repoUrl = arg("--repo-url");
  const updater = new Updater({ installDir, ...(repoUrl ? { repoUrl } : {}) });
  const fallbacks: DeltaFallback[] = [];
  updater.on("delta-fallback", (f) => fallbacks.push(f));
  const t0 = performance.now();
  const check = await updater.check();
  const t1 = performance.now();
  const checkTraffic = updater.traffic;
  const update = check.status === "available" ? check.update : undefined;
  const out: Record<string, unknown> = {
    updateAvailable: update !== undefined,
    checkMs: t1 - t0,
    checkBytes: checkTraffic.bytes,
    checkRequests: checkTraffic.requests,
    kind: update?.artifactKind,
    downloadSize: update?.downloadSize,
  };
  if (mode !== "check" && update) {
    const downloaded = await updater.download(update);
    const t2 = performance.now();
    out.downloadMs = t2 - t1;
    out.fetched = downloaded.fetched;
    if (mode === "update") {
      const installed = await updater.install(downloaded);
      out.installMs = performance.now() - t2;
      out.version = installed.version;
      out.filesWritten = installed.filesWritten;
      out.filesReused = installed.filesReused;
    }
  }
  out.fallbacks = fallbacks;
  out.totalBytes = updater.traffic.bytes;
  out.totalRequests = updater.traffic.requests;
  out.maxRssKB = process.resourceUsage().maxRSS;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

runMain(main);
