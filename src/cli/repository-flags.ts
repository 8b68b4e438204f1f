/**
 * Repositories in object stores for every command that writes a repository: `--repo` takes a
 * folder or `s3://BUCKET/PREFIX`, and `--s3-endpoint URL` names an S3-compatible store. A command
 * joins by its name in {@link WRITING_COMMANDS} and runs its work through {@link withRepository}.
 */
import type { Command } from "commander";
import { isS3Url, parseS3Url, type WorkingCopy, withWritableRepository } from "../publish/remote/index.js";
import { httpUrl } from "./parse.js";

/** Commands that write a repository (each also runs its work through {@link withRepository}). */
const WRITING_COMMANDS = new Set([
  "init",
  "publish",
  "refresh-timestamp",
  "prune",
  "keys rotate",
  "root prepare",
  "root sign",
  "root publish",
  "rollout",
  "yank",
  "promote",
]);

/** What the flags parse to. */
export interface RepositoryFlags {
  /** A folder, or `s3://BUCKET/PREFIX`. */
  repo: string;
  app: string;
  s3Endpoint?: string;
}

/** Adds `--s3-endpoint` to every command of `program` that writes a repository (call after registering them). */
export function addRepositoryFlags(program: Command): void {
  const commands = program.commands.flatMap((cmd) => [
    [cmd.name(), cmd] as const,
    ...cmd.commands.map((sub) => [`${cmd.name()} ${sub.name()}`, sub] as const),
  ]);
  for (const [name, cmd] of commands) {
    if (!WRITING_COMMANDS.has(name)) continue;
    cmd.option(
      "--s3-endpoint <url>",
      "with --repo s3://BUCKET/PREFIX: an S3-compatible store (MinIO, Ceph, R2…), path-style (default: AWS, or AWS_ENDPOINT_URL_S3)",
      httpUrl,
    );
  }
}

/**
 * Runs `run` on the repository the flags name: the folder itself, or a working copy of the
 * object store whose changes are uploaded in the safe order once `run` succeeds. `prepare`
 * fetches what the command reads beyond the app's metadata.
 */
export function withRepository<T>(
  flags: RepositoryFlags,
  run: (repoDir: string) => Promise<T>,
  prepare?: (copy: WorkingCopy) => Promise<void>,
): Promise<T> {
  if (isS3Url(flags.repo)) parseS3Url(flags.repo); // a malformed URL is a usage error before any work
  return withWritableRepository(
    flags.repo,
    {
      app: flags.app,
      ...(flags.s3Endpoint !== undefined ? { s3Endpoint: flags.s3Endpoint } : {}),
      ...(prepare ? { prepare } : {}),
    },
    run,
  );
}

/** `path` inside the working copy `repoDir`, as the user knows it (under `s3://…` for an object store). */
export function repositoryPath(flags: RepositoryFlags, repoDir: string, path: string): string {
  if (!isS3Url(flags.repo) || !path.startsWith(repoDir)) return path;
  return `${flags.repo.replace(/\/+$/, "")}${path.slice(repoDir.length).split("\\").join("/")}`;
}
