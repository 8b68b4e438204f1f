/**
 * What an install folder remembers: its configuration (`config.json`: app, repository, channel)
 * and its state (`state.json`: versions installed, previous one kept for rollback).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { readJsonIfExists, writeJsonAtomic } from "../core/fs.js";
import { type AppConfig, EMBEDDED_CONFIG_FILE, parseAppConfig } from "../formats/native.js";
import type { InstallLayout } from "./layout.js";

/** Persistent state of an install folder. */
export interface InstallState {
  schema: 1;
  /** Version `current` pointed at after the last completed install. */
  current?: string;
  /** The version before it, kept on disk for rollback. */
  previous?: string;
  /** When `current` was installed. */
  installedAt?: string;
}

/** Reads `state.json` (an empty state if the file is missing). */
export async function readState(layout: InstallLayout): Promise<InstallState> {
  const raw = (await readJsonIfExists(layout.stateFile)) as Partial<InstallState> | undefined;
  if (!raw || typeof raw !== "object") return { schema: 1 };
  return {
    schema: 1,
    ...(typeof raw.current === "string" ? { current: raw.current } : {}),
    ...(typeof raw.previous === "string" ? { previous: raw.previous } : {}),
    ...(typeof raw.installedAt === "string" ? { installedAt: raw.installedAt } : {}),
  };
}

/** Writes `state.json` atomically. */
export async function writeState(layout: InstallLayout, state: InstallState): Promise<void> {
  await writeJsonAtomic(layout.stateFile, state);
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
