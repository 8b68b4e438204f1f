/**
 * Archive readers for the formats legacy repositories serve (zip, tar.gz), each hardened the
 * same way (see guard.ts): they write only inside the staging folder they are given.
 */
import type { ArchiveContents, ReadArchiveOptions } from "./guard.js";
import { readTarGz } from "./tar-gz.js";
import { readZip } from "./zip.js";

export {
  type ArchiveContents,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_ENTRIES,
  type ReadArchiveOptions,
  type StagedFile,
} from "./guard.js";
export { readTarGz } from "./tar-gz.js";
export { readZip } from "./zip.js";

/** Archive formats read from legacy repositories. */
export type ArchiveFormat = "zip" | "tar.gz";

/** The format of an archive by its file name, or undefined when it is neither zip nor tar.gz. */
export function archiveFormatOf(fileName: string): ArchiveFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".zip")) return "zip";
  if (lower.endsWith(".tar.gz") || lower.endsWith(".tgz")) return "tar.gz";
  return undefined;
}

/** Reads an archive of `format` into `options.dest`. */
export function readArchive(
  path: string,
  format: ArchiveFormat,
  options: ReadArchiveOptions,
): Promise<ArchiveContents> {
  return format === "zip" ? readZip(path, options) : readTarGz(path, options);
}
