/**
 * The checks every archive entry passes before anything is written, whatever the format (zip,
 * tar.gz): a name that is safe on every OS (no `..`, absolute paths, drive letters, backslashes,
 * `:` streams, reserved Windows names), no duplicates, no two names that collide on a
 * case-insensitive file system, no file under another file, only regular files and folders, and no
 * more entries or bytes than the caller expects (zip bombs).
 */
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { assertSafeRelativePath } from "../../core/fs.js";
import { symlinkStaysInside } from "../../formats/native.js";

/** Default most entries an archive may hold. */
export const DEFAULT_MAX_ENTRIES = 10_000;
/** Default most bytes an archive may unpack to (2 GiB). */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

/** Options of the archive readers. */
export interface ReadArchiveOptions {
  /** Staging folder the selected files are written to (created; must not exist or be empty). */
  dest: string;
  /** Most entries (files, folders, anything) the archive may hold. */
  maxEntries?: number;
  /** Most bytes its entries may unpack to, all together. */
  maxBytes?: number;
  /**
   * Which regular files to write, by their POSIX name in the archive. Others are still checked,
   * then skipped. Default: every file.
   */
  select?: (name: string) => boolean;
}

/** A file written to the staging folder. */
export interface StagedFile {
  /** POSIX name inside the archive (and inside the staging folder). */
  name: string;
  /** Absolute path of the written file. */
  file: string;
  size: number;
  sha256: string;
  /** True if the archive marks it executable. */
  executable: boolean;
}

/** What a reader found. */
export interface ArchiveContents {
  files: StagedFile[];
  /** Regular files checked but not selected. */
  skipped: string[];
  /** Every entry counted, folders included. */
  entries: number;
}

/** Kinds of entry an archive can hold. */
export type EntryKind = "file" | "directory" | "symlink" | "hardlink" | "special";

/** Throws `ARCHIVE_INVALID` for an archive from `source`. */
export function refuseArchive(source: string, message: string): never {
  throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, `${source}: ${message}`, {
    hint: "The archive is damaged or was crafted to escape its folder. Nothing was installed.",
  });
}

/** Tracks the entries of one archive and refuses the first bad one. */
export class EntryGuard {
  private readonly exact = new Set<string>();
  private readonly folded = new Map<string, string>();
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();
  private count = 0;
  private bytes = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;

  constructor(
    private readonly source: string,
    options: { maxEntries?: number; maxBytes?: number },
  ) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  /** Refuses an archive announcing more entries than allowed, before reading any. */
  announceEntries(n: number): void {
    if (n > this.maxEntries)
      refuseArchive(this.source, `holds ${n} entries, more than the ${this.maxEntries} expected`);
  }

  /**
   * Checks one entry and returns its clean POSIX name (no trailing `/`). `linkTarget` is the
   * target of a symlink or hard link.
   */
  admit(rawName: string, kind: EntryKind, linkTarget?: string): string {
    this.count++;
    if (this.count > this.maxEntries) {
      refuseArchive(this.source, `holds more than the ${this.maxEntries} entries expected`);
    }
    const name = kind === "directory" ? rawName.replace(/\/+$/, "") : rawName;
    try {
      assertSafeRelativePath(name, "entry");
    } catch (err) {
      refuseArchive(this.source, (err as Error).message);
    }
    if (kind === "symlink" || kind === "hardlink") {
      const what = kind === "symlink" ? "symbolic link" : "hard link";
      const target = linkTarget ?? "";
      const inside = kind === "symlink" ? symlinkStaysInside(name, target) : safeName(target);
      if (!inside) refuseArchive(this.source, `the ${what} "${name}" points outside the folder ("${target}")`);
      refuseArchive(this.source, `"${name}" is a ${what}; only regular files and folders are installed from it`);
    }
    if (kind === "special") {
      refuseArchive(this.source, `"${name}" is a device, FIFO or socket; only regular files and folders are allowed`);
    }
    if (this.exact.has(name)) refuseArchive(this.source, `"${name}" appears twice`);
    const folded = name.normalize("NFC").toLowerCase();
    const other = this.folded.get(folded);
    if (other !== undefined && !(kind === "directory" && this.dirs.has(other))) {
      refuseArchive(this.source, `"${name}" and "${other}" collide on case-insensitive file systems`);
    }
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      if (this.files.has(prefix)) refuseArchive(this.source, `"${name}" lies under the file "${prefix}"`);
      this.dirs.add(prefix);
    }
    if (kind === "file" && this.dirs.has(name)) refuseArchive(this.source, `"${name}" is both a file and a folder`);
    this.exact.add(name);
    this.folded.set(folded, name);
    if (kind === "file") this.files.add(name);
    else this.dirs.add(name);
    return name;
  }

  /** Counts `n` more unpacked bytes, refusing past the limit. */
  addBytes(n: number): void {
    this.bytes += n;
    if (this.bytes > this.maxBytes) {
      refuseArchive(this.source, `unpacks to more than the ${this.maxBytes} bytes expected (a zip bomb?)`);
    }
  }

  /** Entries seen so far. */
  get entries(): number {
    return this.count;
  }
}

function safeName(path: string): boolean {
  try {
    assertSafeRelativePath(path);
    return true;
  } catch {
    return false;
  }
}
