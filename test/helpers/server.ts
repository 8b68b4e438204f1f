/** Helpers for server tests: a real repository server on 127.0.0.1, and raw HTTP over a socket. */
import { mkdir, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { createRepositoryServer, type RepositoryServerOptions } from "../../src/server/index.js";

/** A started server, closed when the test ends. */
export interface StartedServer {
  /** Base URL with a trailing slash. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a repository server for `root` on a free port of 127.0.0.1. */
export async function startServer(
  t: TestContext,
  root: string,
  options: Partial<RepositoryServerOptions> = {},
): Promise<StartedServer> {
  const server = createRepositoryServer({ root, host: "127.0.0.1", port: 0, ...options });
  const { url, port } = await server.listen();
  t.after(() => server.close({ timeoutMs: 0 }));
  return { url, port, close: () => server.close() };
}

/** A parsed raw HTTP response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Everything received, for "never contains" assertions. */
  raw: Buffer;
}

/**
 * Sends `request` verbatim (no path normalisation, unlike fetch) and reads the answer until the
 * server closes the connection; send `Connection: close`.
 */
export function rawRequest(port: number, request: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf("\r\n\r\n");
      const head = raw.subarray(0, split === -1 ? raw.length : split).toString("latin1");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(" ")[1]),
        headers,
        body: split === -1 ? Buffer.alloc(0) : raw.subarray(split + 4),
        raw,
      });
    });
    // Not end(): a half-closed connection makes Node's server drop responses still in progress.
    socket.write(request);
  });
}

/** A GET for `target` sent verbatim, with `Connection: close`. */
export function rawGet(port: number, target: string, extraHeaders = ""): Promise<RawResponse> {
  return rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extraHeaders}Connection: close\r\n\r\n`);
}

/** A sha256 in hex, for content-addressed names in tests that do not check hashes. */
export const SAMPLE_HASH = "ab".repeat(32);

/** Names a repository publishes (a server serves nothing else), for tests that need a few files. */
export const PUBLISHED = {
  /** A content-addressed full archive: streamed when large, cached for a year. */
  archive: `demo/targets/releases/1.0.0/${SAMPLE_HASH}.demo-1.0.0.tar.zst`,
  /** A second content-addressed archive. */
  otherArchive: `demo/targets/releases/2.0.0/${SAMPLE_HASH}.demo-2.0.0.tar.zst`,
  /** Versioned metadata. */
  rootV1: "demo/metadata/1.root.json",
  /** More versioned metadata. */
  snapshotV1: "demo/metadata/1.snapshot.json",
  /** The mutable timestamp. */
  timestamp: "demo/metadata/timestamp.json",
} as const;

/** Writes `content` at the repository-relative `relPath` under `root`, creating its folders. */
export async function writePublished(root: string, relPath: string, content: string | Buffer): Promise<string> {
  const path = join(root, ...relPath.split("/"));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  return path;
}
