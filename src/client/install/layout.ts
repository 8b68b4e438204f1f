/**
 * Where things live in an install folder. Each version has its own folder; `current` points at
 * the one in use; Updraft's own state sits in `.updraft/`:
 *
 * ```
 * DIR/app-1.0.0/   DIR/app-1.1.0/   DIR/current -> app-1.1.0
 * DIR/.updraft/{config.json,state.json,lock,tuf/,tuf.trusted-root.json,cache/,downloads/,staging/,manifests/}
 * ```
 */
import { lstat, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { isValidVersion } from "../../core/version.js";
import { type FileOps, fileOps } from "./fs-ops.js";

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
  /** The file operations the engines and recovery make in this folder (retrying what Windows holds: see fs-ops.ts). */
  files: FileOps;
}

/** Every path built from a version goes through this: a version read from disk is never a path. */
function checkedVersion(version: string): string {
  if (!isValidVersion(version)) {
    throw new UpdraftError(
      ErrorCodes.INSTALL_FAILED,
      `"${version}" is not a version; refusing to use it as a folder name`,
      {
        hint: "The install's state was altered: check .updraft/ or reinstall the app.",
      },
    );
  }
  return version;
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
export function installLayout(dir: string, files: FileOps = fileOps()): InstallLayout {
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
    versionDir: (version: string) => join(dir, `${VERSION_DIR_PREFIX}${checkedVersion(version)}`),
    manifestFile: (version: string) => join(stateDir, "manifests", `${checkedVersion(version)}.json`),
    files,
  };
}

/**
 * Throws `NOT_INSTALLED` unless `layout.dir` is a folder that holds an install (its `.updraft/`
 * or a `current` pointer). Every entry point but the first install checks this before it writes,
 * so a mistyped `--dir` never gets an `.updraft/` folder created in it.
 */
export async function assertInstallFolder(layout: InstallLayout): Promise<void> {
  const kind = await lstat(layout.dir).then(
    (s) => (s.isDirectory() ? "folder" : s.isSymbolicLink() ? "link" : "file"),
    () => "missing",
  );
  const folder =
    kind === "folder" ||
    (kind === "link" &&
      (await stat(layout.dir).then(
        (s) => s.isDirectory(),
        () => false,
      )));
  if (!folder) {
    throw new UpdraftError(
      ErrorCodes.NOT_INSTALLED,
      kind === "missing" ? `${layout.dir} does not exist` : `${layout.dir} is not a folder`,
      {
        hint: "Give the install folder of the app (--dir), or install it first: updraft install URL --app NAME --dir DIR",
      },
    );
  }
  const holdsInstall =
    (await lstat(layout.stateDir).then(
      (s) => s.isDirectory(),
      () => false,
    )) ||
    (await lstat(layout.currentLink).then(
      () => true,
      () => false,
    ));
  if (!holdsInstall) {
    throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `${layout.dir} is not an Updraft install folder`, {
      hint: "Give the install folder of the app (--dir), or install it first: updraft install URL --app NAME --dir DIR",
    });
  }
}
