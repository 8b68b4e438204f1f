/**
 * Download throughput and server load: a large release (incompressible data) published as its
 * own app; the client downloads it and curl fetches the same file from the same server; wrk
 * loads `updraft serve` and nginx with metadata and large-file requests.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addApp, type BenchRepo, install, publishVersion } from "./app.js";
import { runClient } from "./client.js";
import { median, mustRun, note } from "./exec.js";
import { writeRandomFile } from "./synthetic.js";

/** The large release, installed one version below so the client can download it. */
export interface BigRelease {
  app: string;
  bytes: number;
  installDir: string;
  /** Repository-relative path of the archive. */
  archivePath: string;
  metadataPath: string;
}

/** Publishes `bytes` of random data as `big` 1.0.0 over a tiny 0.0.1 that gets installed. */
export async function publishBig(repo: BenchRepo, url: string, workDir: string, bytes: number): Promise<BigRelease> {
  const app = "big";
  await addApp(repo, app, url);
  const small = join(workDir, "big-0.0.1");
  await writeRandomFile(join(small, "data.bin"), 1024);
  await publishVersion(repo, app, "0.0.1", small, { level: 1, deltas: 0 });
  const installDir = join(workDir, "big-install");
  await install(repo, app, url, installDir);
  const build = join(workDir, "big-1.0.0");
  note(`big: writing and publishing ${(bytes / 1e6).toFixed(0)} MB`);
  await writeRandomFile(join(build, "data.bin"), bytes);
  const published = await publishVersion(repo, app, "1.0.0", build, { level: 1, deltas: 0 });
  await rm(build, { recursive: true, force: true });
  await writeFile(join(workDir, "big.json"), JSON.stringify(published.archive));
  const name = published.archive.target;
  const slash = name.lastIndexOf("/");
  return {
    app,
    bytes: published.archive.size,
    installDir,
    archivePath: `/${app}/targets/${name.slice(0, slash)}/${published.archive.sha256}.${name.slice(slash + 1)}`,
    metadataPath: `/${app}/metadata/timestamp.json`,
  };
}

/** Median bytes/s of `runs` client downloads and `runs` curl downloads of the big release from `url`. */
export async function downloadThroughput(
  big: BigRelease,
  url: string,
  workDir: string,
  runs: number,
): Promise<{ client: number; curl: number; clientRssKB: number }> {
  const client: number[] = [];
  const curl: number[] = [];
  let clientRssKB = 0;
  for (let i = 0; i < runs; i++) {
    await rm(join(big.installDir, ".updraft", "downloads"), { recursive: true, force: true });
    const report = await runClient("download", big.installDir, url);
    if (report.fetched !== big.bytes) throw new Error(`the client fetched ${report.fetched} of ${big.bytes} bytes`);
    client.push(big.bytes / (report.downloadMs! / 1000));
    clientRssKB = Math.max(clientRssKB, report.maxRssKB);
    const out = join(workDir, "curl.out");
    const r = await mustRun("curl", ["-s", "-f", "-o", out, `${url}${big.archivePath}`]);
    curl.push(big.bytes / (r.ms / 1000));
    await rm(out, { force: true });
  }
  await rm(join(big.installDir, ".updraft", "downloads"), { recursive: true, force: true });
  return { client: median(client), curl: median(curl), clientRssKB };
}
