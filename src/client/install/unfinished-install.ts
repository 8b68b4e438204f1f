/**
 * The record of a first install in progress (`.updraft/first-install.json`): written before the
 * first byte of the install folder's own state, removed once the app is installed and its
 * configuration written. While it exists the folder holds no usable install: `updraft install`
 * with the same repository and app resumes it, and every other command says so.
 */
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { readLocalJson } from "../../core/fs.js";
import { isJsonObject } from "../../core/json.js";
import { APP_NAME_PATTERN, CHANNEL_PATTERN } from "../../formats/native.js";
import type { InstallLayout } from "./layout.js";

/** A first install that has started and not finished. */
export interface UnfinishedInstall {
  app: string;
  url: string;
  channel: string;
  /** sha256 of the trusted root the install started with. */
  rootSha256: string;
  /** The install folder was empty (or did not exist) before: a failure removes it whole. */
  wasEmpty: boolean;
  startedAt: string;
}

function markerFile(layout: InstallLayout): string {
  return join(layout.stateDir, "first-install.json");
}

/** The unfinished first install of this folder; undefined when there is none or the record is damaged. */
export async function readUnfinishedInstall(layout: InstallLayout): Promise<UnfinishedInstall | undefined> {
  const raw = await readLocalJson(markerFile(layout)).catch(() => undefined);
  if (!isJsonObject(raw)) return undefined;
  const { app, url, channel, rootSha256, wasEmpty, startedAt } = raw;
  if (
    typeof app !== "string" ||
    !APP_NAME_PATTERN.test(app) ||
    typeof url !== "string" ||
    !/^https?:\/\//.test(url) ||
    typeof channel !== "string" ||
    !CHANNEL_PATTERN.test(channel) ||
    typeof rootSha256 !== "string" ||
    !/^[0-9a-f]{64}$/.test(rootSha256) ||
    typeof wasEmpty !== "boolean" ||
    typeof startedAt !== "string"
  ) {
    return undefined;
  }
  return { app, url, channel, rootSha256, wasEmpty, startedAt };
}

/** Records (durably) that a first install starts or restarts. */
export async function writeUnfinishedInstall(layout: InstallLayout, install: UnfinishedInstall): Promise<void> {
  await layout.files.writeJsonAtomic(markerFile(layout), { schema: 1, ...install });
}

/** Marks the first install finished. */
export async function removeUnfinishedInstall(layout: InstallLayout): Promise<void> {
  await layout.files.remove(markerFile(layout));
}

/** An argument as a shell user would type it (quoted when it holds anything but plain characters). */
function shellArg(arg: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, "\\$1")}"`;
}

/** The command that resumes `install` into `dir`. */
export function resumeCommand(install: UnfinishedInstall, dir: string): string {
  const channel = install.channel === "stable" ? "" : ` --channel ${install.channel}`;
  return `updraft install ${shellArg(install.url)} --app ${install.app} --dir ${shellArg(dir)}${channel}`;
}

/** `NOT_INSTALLED` for a folder whose first install did not finish, or undefined when it has none. */
export async function unfinishedInstallError(layout: InstallLayout): Promise<UpdraftError | undefined> {
  const install = await readUnfinishedInstall(layout);
  if (!install) return undefined;
  return new UpdraftError(
    ErrorCodes.NOT_INSTALLED,
    `The first install of ${install.app} into ${layout.dir} did not finish (started ${install.startedAt})`,
    {
      hint: `Run the same install command again to finish it: ${resumeCommand(install, layout.dir)}`,
      details: { app: install.app, url: install.url, channel: install.channel },
    },
  );
}
