/**
 * The servers the benchmark talks to: `updraft serve` (the CLI, as its own process) and nginx
 * started on 127.0.0.1 with a generated configuration, both serving the same repository (the
 * starters are the tests' own); and wrk to load them.
 */
import { mustRun } from "./exec.js";

export { type RunningServer, startNginx, startUpdraftServe } from "../../test/helpers/servers.js";

/** What wrk measured. */
export interface WrkResult {
  requestsPerSec: number;
  bytesPerSec: number;
}

function parseBytes(text: string): number {
  const m = text.match(/([\d.]+)\s*([KMGT]?B)/);
  if (!m) return 0;
  const scale: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
  return Number(m[1]) * scale[m[2]!]!;
}

/** Loads `url` with wrk for `seconds` (2 threads, `connections` connections). */
export async function wrk(url: string, seconds: number, connections: number): Promise<WrkResult> {
  const r = await mustRun("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, url]);
  const rps = r.stdout.match(/Requests\/sec:\s*([\d.]+)/);
  const tps = r.stdout.match(/Transfer\/sec:\s*(\S+)/);
  if (!rps || !tps) throw new Error(`cannot read wrk's output: ${r.stdout}`);
  return { requestsPerSec: Number(rps[1]), bytesPerSec: parseBytes(tps[1]!) };
}
