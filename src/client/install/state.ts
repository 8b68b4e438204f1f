/**
 * What an install folder remembers: its configuration (`config.json`: app, repository, channel)
 * and its state (`state.json`: current and previous versions, the version on probation, and the
 * outcome of each install attempt for the failed-version back-off).
 */
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { readLocalJson, readLocalText } from "../../core/fs.js";
import { isJsonObject } from "../../core/json.js";
import { isValidVersion } from "../../core/version.js";
import { type AppConfig, EMBEDDED_CONFIG_FILE, parseAppConfig } from "../../formats/native.js";
import type { InstallLayout } from "./layout.js";
import { type Probation, parseProbation } from "./probation.js";

export type { Probation } from "./probation.js";

/** Cap of the files of `.updraft/` read as state or configuration. */
const STATE_FILE_MAX_BYTES = 1 << 20;

/** How the app's files are laid out: a folder per version, or replaced inside one fixed folder. */
export type InstallMode = "versioned" | "in-place";

/** The outcome of the latest attempt to install one version. */
export interface Attempt {
  at: string;
  outcome: "pending" | "failed" | "succeeded";
  reason?: string;
}

/** Persistent state of an install folder. */
export interface InstallState {
  schema: 1;
  mode?: InstallMode;
  /** Version in use after the last completed install. */
  current?: string;
  /** The version before it, kept on disk for rollback. */
  previous?: string;
  /** When `current` was installed. */
  installedAt?: string;
  /** The last version that confirmed it works. */
  knownGood?: string;
  probation?: Probation;
  attempts?: Record<string, Attempt>;
}

const isVersion = (v: unknown): v is string => typeof v === "string" && isValidVersion(v);
const isDate = (v: unknown): v is string => typeof v === "string" && v.length <= 40 && Number.isFinite(Date.parse(v));
/** Most versions the back-off remembers: a state file is never allowed to grow without bound. */
const MAX_ATTEMPTS = 200;

/**
 * Validates a parsed `state.json` (untrusted: written by an older version, edited by hand, or
 * planted). Fields that are not what they should be are dropped, never used: versions must be
 * versions (so a version folder can never be `../..`), dates dates; recovery rebuilds the rest.
 */
export function parseState(raw: unknown): InstallState {
  const state: InstallState = { schema: 1 };
  if (!isJsonObject(raw)) return state;
  if (raw.mode === "versioned" || raw.mode === "in-place") state.mode = raw.mode;
  for (const k of ["current", "previous", "knownGood"] as const) if (isVersion(raw[k])) state[k] = raw[k];
  if (isDate(raw.installedAt)) state.installedAt = raw.installedAt;
  const probation = parseProbation(raw.probation);
  if (probation) state.probation = probation;
  if (isJsonObject(raw.attempts)) {
    const attempts: Record<string, Attempt> = {};
    for (const [version, a] of Object.entries(raw.attempts).slice(-MAX_ATTEMPTS)) {
      if (!isVersion(version) || !isJsonObject(a) || !isDate(a.at)) continue;
      const outcome = a.outcome === "failed" || a.outcome === "succeeded" ? a.outcome : "pending";
      const reason = typeof a.reason === "string" ? a.reason.slice(0, 2000) : undefined;
      attempts[version] = { at: a.at, outcome, ...(reason !== undefined ? { reason } : {}) };
    }
    state.attempts = attempts;
  }
  return state;
}

/** Reads `state.json` (an empty state if the file is missing or not JSON). */
export async function readState(layout: InstallLayout): Promise<InstallState> {
  let raw: unknown;
  try {
    raw = await readLocalJson(layout.stateFile, STATE_FILE_MAX_BYTES, "the install state");
  } catch (err) {
    // Unparseable JSON is rebuilt from the pointer by recovery; a folder or a huge file is refused.
    if (err instanceof UpdraftError && err.code === ErrorCodes.MANIFEST_INVALID) raw = undefined;
    else throw err;
  }
  return parseState(raw);
}

/** Writes `state.json` atomically. */
export async function writeState(layout: InstallLayout, state: InstallState): Promise<void> {
  await layout.files.writeJsonAtomic(layout.stateFile, state);
}

/** Reads, changes and writes the state (callers hold the install lock). */
export async function updateState(
  layout: InstallLayout,
  change: (state: InstallState) => InstallState | undefined,
): Promise<InstallState> {
  const before = await readState(layout);
  const after = change(structuredClone(before)) ?? before;
  await writeState(layout, after);
  return after;
}

/** Writes the install folder's own configuration. */
export async function writeConfig(layout: InstallLayout, config: AppConfig): Promise<void> {
  await layout.files.writeJsonAtomic(layout.configFile, config);
}

/**
 * The app's configuration: `.updraft/config.json`, else the `updraft.json` embedded in the
 * current release. Throws `NOT_INSTALLED` when neither exists.
 */
export async function readConfig(layout: InstallLayout): Promise<AppConfig> {
  const own = await readLocalJson(layout.configFile, STATE_FILE_MAX_BYTES, "the install configuration");
  if (own !== undefined) return parseAppConfig(own, layout.configFile);
  const embedded = await readLocalText(
    join(layout.currentLink, EMBEDDED_CONFIG_FILE),
    STATE_FILE_MAX_BYTES,
    "the release's updraft.json",
  ).catch(() => undefined);
  if (embedded !== undefined) return parseAppConfig(embedded, join(layout.currentLink, EMBEDDED_CONFIG_FILE));
  throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `${layout.dir} is not an Updraft install folder`, {
    hint: "Install the app first: updraft install URL --app NAME --dir DIR",
  });
}
