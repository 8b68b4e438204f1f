/**
 * Refuses to serve a folder that holds private keys. The server only serves published names
 * anyway; this catches the mistake itself (`updraft serve .` in the publisher's working folder,
 * where `updraft keys generate` wrote `./updraft-keys/`) and names the folder to serve instead.
 */
import { type Dirent, readdir, stat } from "node:fs";
import { join, relative, sep } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { metadataPath } from "../formats/native.js";

/** Private key files end with this (`updraft keys generate` writes `<role>.key`). */
const PRIVATE_KEY_SUFFIX = ".key";
/** How deep under the root key files are looked for: the root, its folders and theirs. */
const SEARCH_DEPTH = 2;
/** The first metadata file of every app: a folder holding `<app>/<metadata>/1.root.json` is a repository. */
const FIRST_ROOT_FILE = "1.root.json";

function listFolder(dir: string): Promise<Dirent[]> {
  return new Promise((resolve) => {
    readdir(dir, { withFileTypes: true }, (err, entries) => resolve(err ? [] : entries));
  });
}

function isFile(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    stat(path, (err, stats) => resolve(!err && stats.isFile()));
  });
}

/** Key files and repository folders found under a root. */
interface FolderSurvey {
  keyFiles: string[];
  repositories: string[];
}

async function survey(dir: string, depth: number, found: FolderSurvey): Promise<void> {
  const entries = await listFolder(dir);
  let isRepository = false;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith(PRIVATE_KEY_SUFFIX)) found.keyFiles.push(path);
    else if (entry.isDirectory()) {
      if (!isRepository && (await isFile(join(dir, ...metadataPath(entry.name).split("/"), FIRST_ROOT_FILE)))) {
        isRepository = true;
      }
      if (depth < SEARCH_DEPTH) await survey(path, depth + 1, found);
    }
  }
  if (isRepository) found.repositories.push(dir);
}

/**
 * Throws `USAGE` if `root` (a real path) or a folder up to two levels below holds private key
 * files (`*.key`), naming a repository folder found below it as the one to serve.
 */
export async function refuseFolderWithKeys(root: string, shownRoot: string): Promise<void> {
  const found: FolderSurvey = { keyFiles: [], repositories: [] };
  await survey(root, 0, found);
  if (found.keyFiles.length === 0) return;
  const shown = (path: string): string => {
    const rel = relative(root, path);
    return rel === "" ? shownRoot : join(shownRoot, rel);
  };
  const elsewhere = found.repositories.filter((repo) => repo !== root);
  const firstKey = relative(root, found.keyFiles[0]!).split(sep).join("/");
  const hint =
    elsewhere.length > 0
      ? `Serve the repository folder instead: updraft serve ${shown(elsewhere[0]!)}`
      : "Serve the repository folder (the one given to `updraft init --repo`), and keep key files out of it.";
  throw new UpdraftError(
    ErrorCodes.USAGE,
    `Refusing to serve ${shownRoot}: it holds private key files (${firstKey}${found.keyFiles.length > 1 ? ` and ${found.keyFiles.length - 1} more` : ""})`,
    {
      hint,
      details: {
        keyFiles: found.keyFiles.map((path) => relative(root, path).split(sep).join("/")),
        repositories: elsewhere.map(shown),
      },
    },
  );
}
