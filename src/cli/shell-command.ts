/** The platform shell command that runs `command` (a command line string), for `--restart`. */
export function shellCommand(command: string): string[] {
  return process.platform === "win32" ? ["cmd.exe", "/d", "/s", "/c", command] : ["/bin/sh", "-c", command];
}
