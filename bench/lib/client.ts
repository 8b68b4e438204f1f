/** Runs the benchmark's client process (bench/client-update.ts) and parses its report. */
import { fileURLToPath } from "node:url";
import type { DeltaFallback } from "../../src/client/artifacts/choice.js";
import { mustRun } from "./exec.js";

/** What one client run reports. */
export interface ClientReport {
  updateAvailable: boolean;
  checkMs: number;
  checkBytes: number;
  checkRequests: number;
  kind?: string;
  downloadSize?: number;
  downloadMs?: number;
  fetched?: number;
  installMs?: number;
  version?: string;
  filesWritten?: number;
  filesReused?: number;
  fallbacks: DeltaFallback[];
  totalBytes: number;
  totalRequests: number;
  maxRssKB: number;
}

const ENTRY = fileURLToPath(new URL("../client-update.js", import.meta.url));

/** Runs the client in `mode` on the install folder `dir`. */
export async function runClient(
  mode: "update" | "check" | "download",
  dir: string,
  repoUrl?: string,
): Promise<ClientReport> {
  const result = await mustRun(process.execPath, [
    ENTRY,
    mode,
    "--dir",
    dir,
    ...(repoUrl ? ["--repo-url", repoUrl] : []),
  ]);
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!) as ClientReport;
}
