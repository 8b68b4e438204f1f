/**
 * The LD_PRELOAD shim of test/fixtures/ebusy-shim.c, compiled once per test process with the
 * system C compiler (`cc`), and the environment that makes an `updraft` child process see its
 * file operations refused the way Windows refuses them.
 */
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const SOURCE = fileURLToPath(new URL("../../../test/fixtures/ebusy-shim.c", import.meta.url));
let built: Promise<string> | undefined;

/** Path of the compiled shim. Fails (never skips) when there is no C compiler: CI installs one. */
export function buildShim(): Promise<string> {
  built ??= (async () => {
    const out = join(await mkdtemp(join(tmpdir(), "updraft-shim-")), "ebusy-shim.so");
    try {
      await promisify(execFile)("cc", ["-shared", "-fPIC", "-O2", "-o", out, SOURCE, "-ldl", "-lpthread"]);
    } catch (err) {
      throw new Error(
        `Cannot build the file-lock shim with \`cc\` (install a C compiler, e.g. gcc): ${(err as Error).message}`,
      );
    }
    return out;
  })();
  return built;
}

/** How the shim refuses. */
export interface ShimRule {
  /** Texts a refused path contains. */
  match: string[];
  /** Texts of paths never refused (default: the install lock's files, which the lock itself handles). */
  skip?: string[];
  /** Refusals per path before it succeeds; -1: forever. Default 2. */
  fails?: number;
  /** Which calls refuse (default all). */
  calls?: ("rename" | "unlink" | "rmdir")[];
  errno?: "EBUSY" | "EPERM" | "EACCES" | "ENOTEMPTY";
  /** File each refusal is appended to. */
  log?: string;
}

/** Environment for a child process that loads the shim with `rule`. */
export function shimEnv(shim: string, rule: ShimRule): NodeJS.ProcessEnv {
  return {
    LD_PRELOAD: shim,
    SHIM_MATCH: rule.match.join(":"),
    SHIM_SKIP: (rule.skip ?? ["/.updraft/lock"]).join(":"),
    SHIM_FAILS: String(rule.fails ?? 2),
    SHIM_CALLS: (rule.calls ?? ["rename", "unlink", "rmdir"]).join(","),
    SHIM_ERRNO: rule.errno ?? "EBUSY",
    ...(rule.log ? { SHIM_LOG: rule.log } : {}),
  };
}
