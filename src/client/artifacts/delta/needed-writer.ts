/**
 * Writes the needed stream (every file a delta produces, concatenated in manifest order) into the
 * staging folder: cuts it at file boundaries, hashes each file while writing, sets its mode and
 * checks its size and sha256 against the signed manifest before the next one starts. File calls
 * are synchronous (each costs microseconds; the stream's chunks arrive asynchronously, so the
 * event loop keeps turning). Nothing is fsynced here: the caller makes the whole staged tree
 * durable at once ({@link syncTree}), {@link NeededWriter.written} lists the files.
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from "node:fs";
import { ErrorCodes, UpdraftError } from "../../../core/errors.js";
import type { ManifestFile } from "../../../formats/native.js";
import { underRoot } from "./paths.js";

interface OpenFile {
  fd: number;
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
  /** Paths of the files written so far. */
  readonly written: string[] = [];
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
      this.skipEmpty();
      if (this.k >= this.needed.length) this.fail("the delta produces more bytes than the release needs");
      const file = this.files[this.needed[this.k]!]!;
      const out = this.current ?? this.openCurrent(file);
      const take = Math.min(file.size - out.written, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      out.hash.update(piece);
      let done = 0;
      while (done < piece.length) done += writeSync(out.fd, piece, done, piece.length - done);
      out.written += take;
      this.position += take;
      at += take;
      if (out.written === file.size) this.closeCurrent(file);
    }
  }

  /** Checks that every needed file was written (creating trailing empty ones). */
  finish(): void {
    this.skipEmpty();
    if (this.k < this.needed.length || this.current) this.fail("the delta ended before every file was produced");
  }

  /** Closes an open file after a failure. */
  abort(): void {
    if (this.current) closeSync(this.current.fd);
    this.current = undefined;
  }

  private skipEmpty(): void {
    while (!this.current && this.k < this.needed.length && this.files[this.needed[this.k]!]!.size === 0) {
      const file = this.files[this.needed[this.k]!]!;
      this.openCurrent(file);
      this.closeCurrent(file);
    }
  }

  private openCurrent(file: ManifestFile): OpenFile {
    const fd = openSync(underRoot(this.stagingDir, file.path), "wx", file.mode);
    this.current = { fd, hash: createHash("sha256"), written: 0 };
    return this.current;
  }

  private closeCurrent(file: ManifestFile): void {
    const out = this.current!;
    this.current = undefined;
    let identity: string;
    try {
      fchmodSync(out.fd, file.mode);
      const st = fstatSync(out.fd, { bigint: true });
      identity = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } finally {
      closeSync(out.fd);
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
    this.written.push(underRoot(this.stagingDir, file.path));
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
