/** `updraft install URL --app NAME --dir DIR`: first install of an app from a repository. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { installFromRepository } from "../../client/first-install.js";
import { type NetworkFlags, networkOptionsFromFlags } from "../network-flags.js";
import { info, runCommand } from "../output.js";
import { appName, channelName, FILE_CAPS, httpUrl, path, platformName, readOptionFile, rootPin } from "../parse.js";
import { downloadProgress } from "../progress.js";

/** Registers `install`. */
export function registerInstall(program: Command): void {
  program
    .command("install")
    .description("Install an app from an Updraft repository into a new install folder")
    .argument("<url>", "repository base URL", httpUrl)
    .requiredOption("--app <name>", "app name in the repository", appName)
    .requiredOption("--dir <dir>", "install folder", path)
    .option("--channel <channel>", "channel to follow", channelName, "stable")
    .option("--platform <os-arch>", "take builds for this platform (default: this machine's)", platformName)
    .option("--root <file>", "trusted root file (pins the root)", path)
    .option(
      "--root-sha256 <sha256:hex>",
      "fingerprint of the repository's 1.root.json, as `updraft init` printed it",
      rootPin,
    )
    .option("--json", "print one JSON document")
    .action(
      async (
        url: string,
        opts: {
          app: string;
          dir: string;
          channel: string;
          platform?: string;
          root?: string;
          rootSha256?: string;
          json?: boolean;
        } & NetworkFlags,
      ) => {
        await runCommand(opts, async ({ signal }) => {
          const network = await networkOptionsFromFlags(opts);
          const root =
            opts.root === undefined
              ? undefined
              : await readOptionFile("--root", opts.root, FILE_CAPS.root, "the repository's root (1.root.json)");
          const progress = downloadProgress(!opts.json);
          const started = Date.now();
          const result = await installFromRepository({
            repoUrl: url,
            app: opts.app,
            installDir: resolve(opts.dir),
            channel: opts.channel,
            ...(opts.platform ? { platform: opts.platform } : {}),
            ...network,
            ...(root ? { root } : {}),
            ...(opts.rootSha256 ? { rootSha256: opts.rootSha256 } : {}),
            signal,
            onProgress: progress.onProgress,
          }).finally(progress.stop);
          if (result.trustedOnFirstUse) {
            info(opts, `Trusted the repository's root on first use; fingerprint: sha256:${result.rootFingerprint}`);
            info(opts, "Compare it with the one `updraft init` printed; pin it with --root-sha256 next time.");
          }
          return {
            result: { ...result, seconds: (Date.now() - started) / 1000 },
            human: `Installed ${opts.app} ${result.version} in ${result.folder}`,
          };
        });
      },
    );
}
