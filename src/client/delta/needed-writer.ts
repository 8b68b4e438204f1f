/**
 * Writes the needed stream (every file a delta produces, concatenated in manifest order) into the
 * staging folder: cuts it at file boundaries, hashes each file while writing, fsyncs it, sets its
 * mode and checks its size and sha256 against the signed manifest before the next one starts.
 */
import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { safeJoin } from "../../core/fs.js";
import type { ManifestFile } from "../../formats/native.js";

interface OpenFile {
  handle: FileHandle;
  hash: Hash;
  written: number;
}

/** Sequential writer of the needed stream. */
export class NeededWriter {
  /** Bytes of the stream written so far. */
  position = 0;
  /** Files written and verified. */
  filesDone = 0;
  private k = 0;
  private current: OpenFile | undefined;
  private readonly ready = new Set<number>();
  /** Stat identities (`ino:size:mtimeNs`) of the files written, by path. */
  readonly identities = new Map<string, string>();

  constructor(
    private readonly stagingDir: string,
    private readonly files: readonly ManifestFile[],
    private readonly needed: readonly number[],
  ) {}

  /** True once new file `index` (a needed one) has been written and verified. */
  isReady(index: number): boolean {
    return this.ready.has(index);
  }

  /** Appends bytes of the stream. */
  async write(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      await this.skipEmpty();
      if (this.k >= this.needed.length) this.fail("the delta produces more bytes than the release needs");
      const file = this.files[this.needed[this.k]!]!;
      const out = this.current ?? (await this.openCurrent(file));
      const take = Math.min(file.size - out.written, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      out.hash.update(piece);
      let done = 0;
      while (done < piece.length) done += (await out.handle.write(piece, done, piece.length - done)).bytesWritten;
      out.written += take;
      this.position += take;
      at += take;
      if (out.written === file.size) await this.closeCurrent(file);
    }
  }

  /** Checks that every needed file was written (creating trailing empty ones). */
  async finish(): Promise<void> {
    await this.skipEmpty();
    if (this.k < this.needed.length || this.current) this.fail("the delta ended before every file was produced");
  }

  /** Closes an open file after a failure. */
  async abort(): Promise<void> {
    await this.current?.handle.close().catch(() => undefined);
    this.current = undefined;
  }

  private async skipEmpty(): Promise<void> {
    while (!this.current && this.k < this.needed.length && this.files[this.needed[this.k]!]!.size === 0) {
      const file = this.files[this.needed[this.k]!]!;
      await this.openCurrent(file);
      await this.closeCurrent(file);
    }
  }

  private async openCurrent(file: ManifestFile): Promise<OpenFile> {
    const handle = await open(safeJoin(this.stagingDir, file.path), "wx", file.mode);
    this.current = { handle, hash: createHash("sha256"), written: 0 };
    return this.current;
  }

  private async closeCurrent(file: ManifestFile): Promise<void> {
    const out = this.current!;
    this.current = undefined;
    let identity: string;
    try {
      await out.handle.sync();
      await out.handle.chmod(file.mode);
      const st = await out.handle.stat({ bigint: true });
      identity = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } finally {
      await out.handle.close();
    }
    const digest = out.hash.digest("hex");
    if (out.written !== file.size || digest !== file.sha256) {
      throw new UpdraftError(
        ErrorCodes.FILE_MISMATCH,
        `"${file.path}" produced by the delta does not match its signed sha256`,
        {
          hint: "The delta or the installed files are not what they claim; the client falls back to the full archive.",
        },
      );
    }
    this.identities.set(file.path, identity);
    this.ready.add(this.needed[this.k]!);
    this.filesDone++;
    this.k++;
  }

  private fail(message: string): never {
    throw new UpdraftError(ErrorCodes.DELTA_INVALID, `Invalid delta: ${message}`, {
      hint: "The client falls back to the full archive.",
    });
  }
}
