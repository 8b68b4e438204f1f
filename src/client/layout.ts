/**
 * Where things live in an install folder. Each version has its own folder; `current` points at
 * the one in use; Updraft's own state sits in `.updraft/`:
 *
 * ```
 * DIR/app-1.0.0/   DIR/app-1.1.0/   DIR/current -> app-1.1.0
 * DIR/.updraft/{config.json,state.json,lock,tuf/,tuf.trusted-root.json,cache/,downloads/,staging/,manifests/}
 * ```
 */
import { basename, dirname, join } from "node:path";

/** Prefix of version folders. */
export const VERSION_DIR_PREFIX = "app-";

/** Paths of one install folder. */
export interface InstallLayout {
  dir: string;
  stateDir: string;
  configFile: string;
  stateFile: string;
  lockFile: string;
  /** The TUF metadata folder: only the trusted role files (`root.json`, `timestamp.json`…). */
  tufDir: string;
  /** The safe copy of the trusted root, beside {@link tufDir}; see {@link trustedRootFile}. */
  trustedRootFile: string;
  cacheDir: string;
  downloadsDir: string;
  stagingDir: string;
  currentLink: string;
  /** Windows: text file naming the current version folder (see docs/install-layout.md). */
  currentPointerFile: string;
  versionDir(version: string): string;
  /** The signed manifest of an installed version, kept for reuse and verification. */
  manifestFile(version: string): string;
}

/**
 * Where the safe copy of the trusted root of TUF metadata folder `metadataDir` lives: beside the
 * folder, never inside it, since the folder must hold exactly the role files of the spec (TUF
 * tools and the tuf-conformance suite read every `*.json` there as a role).
 */
export function trustedRootFile(metadataDir: string): string {
  return join(dirname(metadataDir), `${basename(metadataDir)}.trusted-root.json`);
}

/** The layout of install folder `dir`. */
export function installLayout(dir: string): InstallLayout {
  const stateDir = join(dir, ".updraft");
  return {
    dir,
    stateDir,
    configFile: join(stateDir, "config.json"),
    stateFile: join(stateDir, "state.json"),
    lockFile: join(stateDir, "lock"),
    tufDir: join(stateDir, "tuf"),
    trustedRootFile: trustedRootFile(join(stateDir, "tuf")),
    cacheDir: join(stateDir, "cache"),
    downloadsDir: join(stateDir, "downloads"),
    stagingDir: join(stateDir, "staging"),
    currentLink: join(dir, "current"),
    currentPointerFile: join(stateDir, "current"),
    versionDir: (version: string) => join(dir, `${VERSION_DIR_PREFIX}${version}`),
    manifestFile: (version: string) => join(stateDir, "manifests", `${version}.json`),
  };
}
