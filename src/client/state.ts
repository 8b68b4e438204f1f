/**
 * What an install folder remembers: its configuration (`config.json`: app, repository, channel)
 * and its state (`state.json`: current and previous versions, the version on probation, and the
 * outcome of each install attempt for the failed-version back-off).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { readJsonIfExists, writeJsonAtomic } from "../core/fs.js";
import { type AppConfig, EMBEDDED_CONFIG_FILE, parseAppConfig } from "../formats/native.js";
import type { InstallLayout } from "./layout.js";

/** How the app's files are laid out: a folder per version, or replaced inside one fixed folder. */
export type InstallMode = "versioned" | "in-place";

/** A new version that has not yet confirmed it works. */
export interface Probation {
  version: string;
  /** The version to go back to if this one fails. */
  previous?: string;
  since: string;
  /** ISO time after which an unconfirmed version is rolled back. */
  deadline: string;
  /** Launches counted so far, and the most allowed without a confirmation. */
  launches: number;
  maxLaunches: number;
}

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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads `state.json` (an empty state if the file is missing or unreadable). */
export async function readState(layout: InstallLayout): Promise<InstallState> {
  let raw: unknown;
  try {
    raw = await readJsonIfExists(layout.stateFile);
  } catch {
    raw = undefined; // A damaged state file is rebuilt from the pointer by recovery.
  }
  if (!isObject(raw)) return { schema: 1 };
  const str = (k: string) => (typeof raw[k] === "string" ? (raw[k] as string) : undefined);
  const state: InstallState = { schema: 1 };
  const mode = str("mode");
  if (mode === "versioned" || mode === "in-place") state.mode = mode;
  for (const k of ["current", "previous", "installedAt", "knownGood"] as const) {
    const v = str(k);
    if (v !== undefined) state[k] = v;
  }
  const p = raw.probation;
  if (isObject(p) && typeof p.version === "string" && typeof p.deadline === "string") {
    state.probation = {
      version: p.version,
      ...(typeof p.previous === "string" ? { previous: p.previous } : {}),
      since: typeof p.since === "string" ? p.since : new Date(0).toISOString(),
      deadline: p.deadline,
      launches: typeof p.launches === "number" ? p.launches : 0,
      maxLaunches: typeof p.maxLaunches === "number" ? p.maxLaunches : 3,
    };
  }
  if (isObject(raw.attempts)) {
    state.attempts = {};
    for (const [version, a] of Object.entries(raw.attempts)) {
      if (!isObject(a) || typeof a.at !== "string") continue;
      const outcome = a.outcome === "failed" || a.outcome === "succeeded" ? a.outcome : "pending";
      state.attempts[version] = { at: a.at, outcome, ...(typeof a.reason === "string" ? { reason: a.reason } : {}) };
    }
  }
  return state;
}

/** Writes `state.json` atomically. */
export async function writeState(layout: InstallLayout, state: InstallState): Promise<void> {
  await writeJsonAtomic(layout.stateFile, state);
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
  await writeJsonAtomic(layout.configFile, config);
}

/**
 * The app's configuration: `.updraft/config.json`, else the `updraft.json` embedded in the
 * current release. Throws `NOT_INSTALLED` when neither exists.
 */
export async function readConfig(layout: InstallLayout): Promise<AppConfig> {
  const own = await readJsonIfExists(layout.configFile);
  if (own !== undefined) return parseAppConfig(own);
  let embedded: string | undefined;
  try {
    embedded = await readFile(join(layout.currentLink, EMBEDDED_CONFIG_FILE), "utf8");
  } catch {
    // handled below
  }
  if (embedded !== undefined) return parseAppConfig(embedded);
  throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `${layout.dir} is not an Updraft install folder`, {
    hint: "Install the app first: updraft install URL --app NAME --dir DIR",
  });
}
