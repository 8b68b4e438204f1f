/** The Debian tools the full benchmark compares against, installed when missing (as root). */
import { hasCommand, mustRun, note } from "./exec.js";

/** Command → Debian package. */
const TOOLS: Record<string, string> = {
  zstd: "zstd",
  bsdiff: "bsdiff",
  xdelta3: "xdelta3",
  nginx: "nginx",
  wrk: "wrk",
  curl: "curl",
};

/** Installs whatever is missing with apt-get; throws if that is impossible. */
export async function ensureTools(): Promise<void> {
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(TOOLS)) if (!(await hasCommand(cmd))) missing.push(pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`Missing tools (${missing.join(", ")}); install them or run as root`);
  note(`apt-get install ${missing.join(" ")}`);
  await mustRun("apt-get", ["update", "-qq"]);
  await mustRun("apt-get", ["install", "-y", "-qq", ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}
