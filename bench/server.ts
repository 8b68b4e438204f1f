/**
 * `npm run bench:server`: only the server comparison of `npm run bench` (updraft serve vs nginx
 * with wrk), on a repository-shaped folder with a 1.5 kB timestamp and a 100 MB archive.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { note, runMain } from "./lib/exec.js";
import { serverSpeedSection } from "./lib/server-speed.js";
import { startNginx, startUpdraftServe } from "./lib/servers.js";
import { renderTable } from "./lib/table.js";

const HASH = "ab".repeat(32);
const FILES = {
  metadataPath: "/demo/metadata/timestamp.json",
  archivePath: `/demo/targets/releases/1.0.0/${HASH}.demo-1.0.0.tar.zst`,
};

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "updraft-bench-server-"));
  try {
    const root = join(work, "repo");
    const write = async (path: string, data: Buffer): Promise<void> => {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), data);
    };
    await write(FILES.metadataPath, Buffer.from(randomBytes(1125).toString("base64")));
    await write(FILES.archivePath, randomBytes(Number(process.env.BENCH_BIG_MB ?? 100) * 1024 * 1024));
    await mkdir(join(work, "nginx"));
    // As many processes as nginx's worker_processes (2), so that both use the same cores.
    const serve = await startUpdraftServe(root, ["--workers", "2"]);
    const nginx = await startNginx(root, join(work, "nginx"));
    try {
      note("wrk: updraft serve vs nginx, metadata and large file");
      const section = await serverSpeedSection(serve.url, nginx.url, FILES);
      process.stdout.write(renderTable([section]));
    } finally {
      await nginx.stop();
      await serve.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
