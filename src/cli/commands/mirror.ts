/** `updraft mirror sync SOURCE_URL DEST --app NAME --root-sha256 …`: a verified copy of an app's repository. */
import type { Command } from "commander";
import { syncMirror } from "../../mirror/index.js";
import { isS3Url, parseS3Url } from "../../publish/remote/index.js";
import { addConnectionFlags, type NetworkFlags, networkOptionsFromFlags } from "../network-flags.js";
import { runCommand } from "../output.js";
import { appName, FILE_CAPS, httpUrl, path, readOptionFile, rootPin } from "../parse.js";

/** What `mirror sync`'s flags parse to. */
interface MirrorSyncFlags extends NetworkFlags {
  app: string;
  root?: string;
  rootSha256?: string;
  s3Endpoint?: string;
  json?: boolean;
}

/** Registers `updraft mirror` and its subcommand `sync`. */
export function registerMirror(program: Command): void {
  const mirror = program.command("mirror").description("Mirrors of a repository for offline or internal networks");
  const sync = mirror
    .command("sync")
    .description(
      "Copy an app's repository, verifying every file against the pinned root; only new files are copied, and readers of the mirror never see a half-synced state",
    )
    .argument("<source>", "repository base URL to copy from", httpUrl)
    .argument("<dest>", "mirror folder, or s3://BUCKET/PREFIX", (value: string) =>
      isS3Url(value) ? value : path(value),
    )
    .requiredOption("--app <name>", "app to copy", appName)
    .option("--root <file>", "trusted root file to verify from", path)
    .option(
      "--root-sha256 <sha256:hex>",
      "fingerprint of the source's 1.root.json, as `updraft init` printed it",
      rootPin,
    )
    .option(
      "--s3-endpoint <url>",
      "with DEST s3://BUCKET/PREFIX: an S3-compatible store (MinIO, Ceph, R2…), path-style (default: AWS, or AWS_ENDPOINT_URL_S3)",
      httpUrl,
    )
    .option("--json", "print one JSON document");
  addConnectionFlags(sync).action(async (source: string, dest: string, opts: MirrorSyncFlags) => {
    await runCommand(opts, async () => {
      if (isS3Url(dest)) parseS3Url(dest); // a malformed URL is a usage error before any work
      const network = await networkOptionsFromFlags(opts);
      const root =
        opts.root === undefined
          ? undefined
          : await readOptionFile("--root", opts.root, FILE_CAPS.root, "the repository's root (1.root.json)");
      const report = await syncMirror({
        source,
        dest,
        app: opts.app,
        network,
        ...(root !== undefined ? { root } : {}),
        ...(opts.rootSha256 !== undefined ? { rootSha256: opts.rootSha256 } : {}),
        ...(opts.s3Endpoint !== undefined ? { s3Endpoint: opts.s3Endpoint } : {}),
      });
      const human =
        report.copied.length === 0
          ? `The mirror of "${report.app}" at ${dest} is up to date (timestamp version ${report.timestampVersion}).`
          : `Synced "${report.app}" to ${dest}: ${report.targetsCopied} targets copied (${report.bytesDownloaded} bytes), ${report.targetsPresent} already there, ${report.copied.length - report.targetsCopied} metadata files; timestamp version ${report.timestampVersion}.`;
      return { result: { ...report }, human };
    });
  });
}
