/**
 * The install id: a random value created on the install's own disk, which places it in or out of
 * each staged rollout (see trust/choose-release.ts). It is never sent anywhere. The file is
 * untrusted input: anything but 32 lower-case hex characters is replaced by a new id.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ensureDir, readLocalText, removePath, writeFileAtomic } from "../../core/fs.js";
import type { InstallLayout } from "./layout.js";

/** The id's file in the install's state folder. */
export const INSTALL_ID_FILE = "install-id";
const INSTALL_ID = /^[0-9a-f]{32}$/;

/** The install's id, created (or replaced when damaged) on first use. */
export async function installId(layout: Pick<InstallLayout, "stateDir">): Promise<string> {
  const file = join(layout.stateDir, INSTALL_ID_FILE);
  const text = await readLocalText(file, 1024).catch(() => undefined);
  const id = text?.trim();
  if (id !== undefined && INSTALL_ID.test(id)) return id;
  const fresh = randomBytes(16).toString("hex");
  await ensureDir(layout.stateDir);
  await removePath(file); // whatever was there (a folder, a damaged file) is not an id
  await writeFileAtomic(file, `${fresh}\n`, 0o600);
  return fresh;
}
