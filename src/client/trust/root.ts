/**
 * Root establishment: the one place that decides which TUF root an install trusts and how it came
 * to trust it. In order: the root the install already trusts (its metadata cache), the
 * `updraft-root.json` shipped in the app's folder, a root file the user gave, the repository's
 * `1.root.json` checked against a pinned fingerprint, or that file trusted on first use (its
 * fingerprint reported, as SSH does).
 *
 * Choosing never writes: a refused root (a fingerprint that does not match, a malformed pin, a
 * file that is no root) leaves the install as it was. {@link trustRoot} then writes the chosen
 * root; {@link establishRoot} does both.
 */
import { join } from "node:path";
import { ErrorCodes, isUpdraftError, UpdraftError } from "../../core/errors.js";
import { sha256Hex } from "../../core/hash.js";
import { readCapped } from "../../core/read-capped.js";
import { EMBEDDED_ROOT_FILE, metadataPath } from "../../formats/native.js";
import type { HttpClient } from "../net/http.js";
import { rootVersion, TrustSession } from "./session.js";

/** Cap of a root read from a file or fetched on first use (tuf-js's own limit for a root is 512000 bytes). */
const ROOT_CAP = 512 * 1024;

/** How the trusted root of an install was established. */
export type RootSource =
  /** The install already trusted it (its metadata cache). */
  | "cache"
  /** The `updraft-root.json` shipped in the app's folder. */
  | "app-folder"
  /** A root file the user gave. */
  | "file"
  /** The repository's `1.root.json`, matching the pinned fingerprint. */
  | "pinned"
  /** The repository's `1.root.json`, trusted on first use. */
  | "first-use";

/**
 * What to do with the repository's root when nothing pins it: `"refuse"` trusts nothing;
 * `"if-signed"` trusts it on first use when the repository has signed metadata and establishes no
 * root when it has none (a client error status or an error page for `1.root.json`); `"trust"`
 * trusts it on first use, and a repository without one is an error.
 */
export type FirstUse = "refuse" | "if-signed" | "trust";

/** Where the repository's root is fetched from, for a pin or first use. */
export interface RootRepository {
  /** Repository base URL: the folder that holds `<app>/metadata`. */
  readonly repoUrl: string;
  /** Updraft app name. */
  readonly app: string;
  readonly http: HttpClient;
}

/** Options of {@link chooseRoot} and {@link establishRoot}. */
export interface RootOptions {
  /** The install's TUF metadata folder, where the trusted root is kept. */
  readonly metadataDir: string;
  /**
   * Whether a root the metadata folder already trusts is kept (default true). A first install
   * trusts only what it is given: it passes false.
   */
  readonly keepTrusted?: boolean;
  /** The folder of the app's files, which may ship `updraft-root.json` (ignored when a pin or a root file is given). */
  readonly appFolder?: string;
  /** The root file's bytes, when the user gave one. */
  readonly rootFile?: Uint8Array;
  /** Expected sha256 of the repository's `1.root.json` (hex, with or without `sha256:`, any case). */
  readonly pin?: string;
  /** What to do with the repository's root when nothing pins it (default `"refuse"`). */
  readonly firstUse?: FirstUse;
  /** The repository, needed to fetch its root for a pin or first use. */
  readonly repository?: RootRepository;
}

/** Options that always establish a root (or throw): the repository's root is trusted on first use. */
export interface MustEstablish {
  readonly firstUse: "trust";
  readonly repository: RootRepository;
}

/** The root an install trusts, and how it was established. */
export interface EstablishedRoot {
  readonly source: RootSource;
  /** The root document's bytes. */
  readonly root: Buffer;
  /** sha256 (hex) of {@link EstablishedRoot.root}, to compare with what the publisher printed. */
  readonly fingerprint: string;
}

/**
 * A root fingerprint pin as lower-case hex: exactly as `updraft init` prints it (`sha256:` and 64
 * hexadecimal digits, any case) or just the hex. Anything else is a `USAGE` error.
 */
export function parseRootPin(pin: string): string {
  const hex = /^(?:sha256:)?([0-9a-f]{64})$/i.exec(pin.trim())?.[1];
  if (hex === undefined) {
    throw new UpdraftError(ErrorCodes.USAGE, `"${pin}" is not a root fingerprint`, {
      hint: "Give the root fingerprint that `updraft init` printed: sha256: followed by 64 hexadecimal digits.",
    });
  }
  return hex.toLowerCase();
}

/**
 * Decides which root the install trusts (see the order above) and checks it, writing nothing.
 * Undefined when none can be established: nothing trusted or shipped, nothing given, and first
 * use refused or the repository unsigned (`"if-signed"`).
 *
 * Throws `USAGE` for a malformed pin, `ROOT_MISMATCH` when the given root does not have the
 * pinned fingerprint, `METADATA_INVALID` when the chosen bytes are no TUF root, and the
 * transport's errors when the repository's root cannot be fetched.
 */
export async function chooseRoot(options: RootOptions & MustEstablish): Promise<EstablishedRoot>;
export async function chooseRoot(options: RootOptions): Promise<EstablishedRoot | undefined>;
export async function chooseRoot(options: RootOptions): Promise<EstablishedRoot | undefined> {
  const pin = options.pin === undefined ? undefined : parseRootPin(options.pin);
  if (options.keepTrusted !== false) {
    const trusted = await TrustSession.trustedRoot(options.metadataDir);
    if (trusted) return established("cache", trusted);
  }
  if (options.appFolder !== undefined && pin === undefined && options.rootFile === undefined) {
    const shipped = await readCapped(join(options.appFolder, EMBEDDED_ROOT_FILE), ROOT_CAP).catch(() => undefined);
    if (shipped) return checked(established("app-folder", shipped), undefined);
  }
  if (options.rootFile !== undefined) return checked(established("file", Buffer.from(options.rootFile)), pin);
  const firstUse = options.firstUse ?? "refuse";
  const { repository } = options;
  if (repository === undefined || (pin === undefined && firstUse === "refuse")) return undefined;
  const probing = pin === undefined && firstUse === "if-signed";
  const fetched = await fetchFirstRoot(repository, probing);
  if (fetched === undefined) return undefined;
  return checked(established(pin === undefined ? "first-use" : "pinned", fetched), pin);
}

/** Writes `root` as the install's trusted root, unless it is the one already trusted. */
export async function trustRoot(metadataDir: string, root: EstablishedRoot): Promise<void> {
  if (root.source !== "cache") await TrustSession.seedRoot(metadataDir, root.root);
}

/** {@link chooseRoot}, then {@link trustRoot}: the install trusts the root returned. */
export async function establishRoot(options: RootOptions): Promise<EstablishedRoot | undefined> {
  const root = await chooseRoot(options);
  if (root) await trustRoot(options.metadataDir, root);
  return root;
}

function established(source: RootSource, root: Buffer): EstablishedRoot {
  return { source, root, fingerprint: sha256Hex(root) };
}

/** `root`, once it has the pinned fingerprint (when there is a pin) and is a TUF root document. */
function checked(root: EstablishedRoot, pin: string | undefined): EstablishedRoot {
  if (pin !== undefined && pin !== root.fingerprint) {
    throw new UpdraftError(
      ErrorCodes.ROOT_MISMATCH,
      `${root.source === "file" ? "The root file" : "The repository's root"} has fingerprint ${root.fingerprint}, not the pinned ${pin}`,
      { hint: "Do not use this repository until the publisher confirms its root fingerprint." },
    );
  }
  if (rootVersion(root.root) === undefined) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, "The trusted root is not a TUF root document");
  }
  return root;
}

/**
 * The repository's `1.root.json`. When `probing`, a repository without signed metadata gives
 * undefined: any client error status (servers answer 403 for a missing file too), or a 200 with
 * something that is no root (an error page).
 */
async function fetchFirstRoot(repository: RootRepository, probing: boolean): Promise<Buffer | undefined> {
  const path = `${metadataPath(repository.app)}/1.root.json`;
  let bytes: Buffer;
  try {
    bytes = await repository.http.getBytes(`${repository.repoUrl.replace(/\/+$/, "")}/${path}`, ROOT_CAP, undefined, {
      tooLarge: () => new UpdraftError(ErrorCodes.METADATA_TOO_LARGE, `${path} is over 512 kB`),
    });
  } catch (err) {
    const status = isUpdraftError(err, ErrorCodes.HTTP_STATUS) ? Number(err.details?.status) : 0;
    if (probing && status >= 400 && status < 500) return undefined;
    throw err;
  }
  if (probing && rootVersion(bytes) === undefined) return undefined;
  return bytes;
}
