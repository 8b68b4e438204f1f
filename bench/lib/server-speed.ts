/**
 * `updraft serve` against nginx with wrk, in the same run on the same files: requests per second
 * for a small metadata file (many connections) and throughput for a large file (a few
 * connections). The goals are issue 11's: ≥ 0.8× nginx's requests/s and ≥ 0.9× its throughput.
 */
import { mbps } from "./report.js";
import { wrk } from "./servers.js";
import type { Section } from "./table.js";

/** What {@link serverSpeedSection} loads on both servers (paths start with `/`). */
export interface ServerSpeedFiles {
  metadataPath: string;
  archivePath: string;
}

/** Goal for metadata requests per second, as a share of nginx's. */
export const METADATA_GOAL = 0.8;
/** Goal for large-file throughput, as a share of nginx's. */
export const LARGE_FILE_GOAL = 0.9;
const SECONDS = 5;

/** Runs wrk against both servers (alternating, best of `rounds`) and returns the table section. */
export async function serverSpeedSection(
  updraftUrl: string,
  nginxUrl: string,
  files: ServerSpeedFiles,
  rounds = 2,
): Promise<Section> {
  const best = async (url: string, connections: number, pick: "requestsPerSec" | "bytesPerSec"): Promise<number> => {
    let top = 0;
    for (let i = 0; i < rounds; i++) top = Math.max(top, (await wrk(url, SECONDS, connections))[pick]);
    return top;
  };
  // Alternate the servers so that neither gets a quieter moment of a shared machine.
  const metaUpdraft = await best(`${updraftUrl}${files.metadataPath}`, 16, "requestsPerSec");
  const metaNginx = await best(`${nginxUrl}${files.metadataPath}`, 16, "requestsPerSec");
  const largeUpdraft = await best(`${updraftUrl}${files.archivePath}`, 4, "bytesPerSec");
  const largeNginx = await best(`${nginxUrl}${files.archivePath}`, 4, "bytesPerSec");
  return {
    title: `Server (wrk -t2, ${SECONDS} s, best of ${rounds})`,
    figureHeader: "updraft serve",
    referenceHeader: "nginx",
    rows: [
      {
        label: "metadata req/s (16 conn)",
        figure: metaUpdraft.toFixed(0),
        reference: metaNginx.toFixed(0),
        ratio: metaUpdraft / metaNginx,
        goal: `≥ ${METADATA_GOAL}`,
        met: metaUpdraft / metaNginx >= METADATA_GOAL,
      },
      {
        label: "large file (4 conn)",
        figure: mbps(largeUpdraft),
        reference: mbps(largeNginx),
        ratio: largeUpdraft / largeNginx,
        goal: `≥ ${LARGE_FILE_GOAL}`,
        met: largeUpdraft / largeNginx >= LARGE_FILE_GOAL,
      },
    ],
  };
}
