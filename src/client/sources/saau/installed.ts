/**
 * The version a SAAU app folder holds: given with `--current-version`, else read from the copy of
 * `versao.txt` every SAAU package installs beside the app, else what Updraft last installed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../../core/errors.js";
import { assertVersion } from "../../../core/version.js";
import { decodeLabelText, isSaauVersion, parseVersao, VERSAO_FILE } from "../../../formats/versao.js";
import { type InstallLayout, readState } from "../../install/index.js";

/** The installed version and where it was read. */
export interface InstalledVersion {
  version: string;
  source: "option" | "versao.txt" | "state";
}

/** Reads the installed version of an in-place app folder. */
export async function installedVersion(layout: InstallLayout, explicit?: string): Promise<InstalledVersion> {
  if (explicit !== undefined) return { version: assertVersion(explicit, "--current-version"), source: "option" };
  const bytes = await readFile(join(layout.dir, VERSAO_FILE)).catch(() => undefined);
  if (bytes) {
    try {
      return { version: parseVersao(bytes).version, source: "versao.txt" };
    } catch {
      // A damaged copy still names its version on line 1.
      const first =
        decodeLabelText(bytes)
          .split(/\r\n|\n|\r/)[0]
          ?.trim() ?? "";
      if (isSaauVersion(first)) return { version: first, source: "versao.txt" };
    }
  }
  const state = await readState(layout);
  if (state.current) return { version: state.current, source: "state" };
  throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `Cannot tell which version is installed in ${layout.dir}`, {
    hint: `The folder has no readable ${VERSAO_FILE}; pass --current-version (e.g. --current-version 10.0.1.0).`,
  });
}
