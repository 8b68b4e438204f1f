/**
 * A bounded in-memory copy of small files, keyed by their full identity (device, inode, size,
 * mtime and ctime in nanoseconds). The server still stats the requested path on every request
 * and only uses a copy whose identity matches the file as it is now, so a copy can never be
 * stale: publish replaces files by rename (new inode), and any write, rename or link changes the
 * ctime. Files changed in the last few seconds are not copied ("racily clean" files, as git calls
 * them), so coarse file system clocks cannot hide an in-place rewrite either.
 */
import type { BigIntStats } from "node:fs";
import type { Validators } from "./validators.js";

/** Limits of a {@link SmallFileCache}. */
export interface SmallFileCacheLimits {
  /** Largest file kept, in bytes. */
  readonly maxFileBytes: number;
  /** Total bytes kept; the oldest copies go first. */
  readonly maxTotalBytes: number;
}

/** Only files whose mtime and ctime are at least this old are copied. */
const RACY_WINDOW_NS = 3_000_000_000n;

/** A kept copy: the whole file and its validators. */
export interface CachedFile {
  readonly body: Buffer;
  readonly validators: Validators;
}

interface Entry extends CachedFile {
  readonly dev: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** Small file copies, looked up with the `stat` of the request. */
export class SmallFileCache {
  readonly #limits: SmallFileCacheLimits;
  /** By inode; Map order is insertion order (oldest first). */
  readonly #entries = new Map<bigint, Entry>();
  #totalBytes = 0;

  constructor(limits: SmallFileCacheLimits) {
    this.#limits = limits;
  }

  /** True if a file of this size may be kept. */
  fits(size: number): boolean {
    return size <= this.#limits.maxFileBytes;
  }

  /** The copy of the file `stats` describes, if there is one and it is still that file. */
  get(stats: BigIntStats): CachedFile | undefined {
    const entry = this.#entries.get(stats.ino);
    if (entry === undefined) return undefined;
    if (
      entry.dev !== stats.dev ||
      entry.size !== stats.size ||
      entry.mtimeNs !== stats.mtimeNs ||
      entry.ctimeNs !== stats.ctimeNs
    ) {
      this.#delete(stats.ino, entry);
      return undefined;
    }
    return entry;
  }

  /**
   * Keeps `body` as the content of the file `stats` describes (read through the same descriptor),
   * unless it is too big or changed too recently to be trusted.
   */
  set(stats: BigIntStats, body: Buffer, validators: Validators): void {
    if (body.length !== Number(stats.size) || !this.fits(body.length)) return;
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    if (nowNs - stats.mtimeNs < RACY_WINDOW_NS || nowNs - stats.ctimeNs < RACY_WINDOW_NS) return;
    const previous = this.#entries.get(stats.ino);
    if (previous !== undefined) this.#delete(stats.ino, previous);
    this.#entries.set(stats.ino, {
      dev: stats.dev,
      size: stats.size,
      mtimeNs: stats.mtimeNs,
      ctimeNs: stats.ctimeNs,
      body,
      validators,
    });
    this.#totalBytes += body.length;
    for (const [ino, oldest] of this.#entries) {
      if (this.#totalBytes <= this.#limits.maxTotalBytes) break;
      this.#delete(ino, oldest);
    }
  }

  #delete(ino: bigint, entry: Entry): void {
    this.#entries.delete(ino);
    this.#totalBytes -= entry.body.length;
  }
}
