/**
 * The `updraft` command: publisher, server and client in one binary. Started by ./updraft.ts,
 * which checks the Node version first.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ErrorCodes, ExitCodes, UpdraftError } from "../core/errors.js";
import { isJsonObject, parseJson } from "../core/json.js";
import { registerCommands } from "./commands/index.js";
import { catchSignals, reportError, reportSuccess, setJsonMode } from "./output.js";
import { wantsJson } from "./runtime-check.js";

/** The package's version, for `updraft --version`. */
function packageVersion(): string {
  const file = new URL("../../../package.json", import.meta.url);
  const pkg = parseJson(readFileSync(file, "utf8"));
  if (!isJsonObject(pkg) || typeof pkg.version !== "string") {
    throw new UpdraftError(ErrorCodes.INTERNAL, `${file.pathname} has no "version": the installation is damaged`, {
      hint: "Reinstall Updraft.",
    });
  }
  return pkg.version;
}

// Whatever the caller's umask, nothing this command creates is writable by other users (the
// library sets explicit modes too; this also covers files written by the libraries it uses).
process.umask(process.umask(0o022) | 0o022);

const json = wantsJson(process.argv.slice(2));
setJsonMode(json);
catchSignals();
// A failure outside any command's own handling is still reported, once (one JSON document with --json).
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (err: unknown) => {
    reportError(json, err);
    process.exit();
  });
}

// Commander's error messages become Updraft's usage errors (one JSON document with --json);
// with --json its help and version text go into the document too.
let commanderOut = "";
const program = new Command();
program
  .name("updraft")
  .description("Signed auto-updates for any app: publish, serve, check, download, install, restart, roll back.")
  .version(packageVersion(), "-V, --version", "print the version of updraft")
  .enablePositionalOptions()
  .configureOutput({
    writeOut: (text) => {
      if (json) commanderOut += text;
      else process.stdout.write(text);
    },
    writeErr: (text) => {
      if (!json) process.stderr.write(text);
    },
    outputError: () => {},
  })
  .exitOverride();
registerCommands(program);

/** The command line's subcommand words, for the hint of a usage error. */
function commandWords(): string {
  const words = process.argv.slice(2).filter((w) => program.commands.some((c) => c.name() === w));
  return ["updraft", ...words.slice(0, 1)].join(" ");
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) reportError(json, err);
  else if (err.exitCode === 0) {
    // --version or --help: commander printed it, unless it went into `commanderOut`.
    if (json) {
      const result =
        err.code === "commander.version" ? { version: commanderOut.trim() } : { help: commanderOut.trimEnd() };
      reportSuccess(true, { result });
    }
    process.exitCode = ExitCodes.OK;
  } else {
    // "commander.help": no command given; commander printed the help to stderr.
    const message = err.code === "commander.help" ? "No command given" : err.message.replace(/^error: /, "");
    reportError(
      json,
      new UpdraftError(ErrorCodes.USAGE, message, {
        hint: `Run \`${commandWords()} --help\` for the commands and options.`,
        details: { commanderCode: err.code },
      }),
    );
  }
}
