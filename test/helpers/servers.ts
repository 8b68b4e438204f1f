/** Real HTTP servers for tests: `updraft serve` as a child process, and Python's plain static server. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { CLI } from "./cli.js";

/** A running server process and its base URL. */
export interface RunningServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      const m = seen.match(pattern);
      if (m) {
        child.stdout?.off("data", onData);
        child.stderr?.off("data", onData);
        resolve(m);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code} before it was ready: ${seen}`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await once(child, "exit");
  clearTimeout(timer);
}

/** Starts `updraft serve DIR --port 0` and reads its URL from stdout. */
export async function startUpdraftServe(dir: string): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI, "serve", dir, "--port", "0", "--host", "127.0.0.1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await waitForLine(child, /(http:\/\/127\.0\.0\.1:\d+)\/?/, "updraft serve");
  return { url: m[1]!, process: child, stop: () => stopProcess(child) };
}

/** Starts `python3 -m http.server` on a free port: a plain static host with no Updraft code. */
export async function startPlainStaticServer(dir: string): Promise<RunningServer> {
  const child = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await waitForLine(child, /port (\d+)/, "python3 -m http.server");
  return { url: `http://127.0.0.1:${m[1]}`, process: child, stop: () => stopProcess(child) };
}
