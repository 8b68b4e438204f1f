/**
 * The dashboard's actions on releases: the four operations it can ask for, each confirmed in the
 * page first and shown with its equivalent CLI command. The dashboard only offers them when it is
 * given an implementation, which signs with the publisher's keys where the dashboard runs.
 */

/** One action a person may take from the dashboard. */
export type DashboardAction =
  | { kind: "rollout"; app: string; channel: string; version: string; percent: number }
  | { kind: "halt"; app: string; channel: string; version: string }
  | { kind: "resume"; app: string; channel: string; version: string }
  | { kind: "promote"; app: string; version: string; from: string; to: string }
  | { kind: "yank"; app: string; version: string; reason: string };

/** What carries out the actions: the publisher's functions, with the local keys. */
export interface DashboardActions {
  /** Sets the share of installs (0–100) offered `version` on `channel`. */
  setRollout(app: string, channel: string, version: string, percent: number): Promise<void>;
  /** Halts (`halted: true`) or resumes a rollout. */
  haltRollout(app: string, channel: string, version: string, halted: boolean): Promise<void>;
  /** Adds `version`, published on `from`, to channel `to`. */
  promote(app: string, version: string, from: string, to: string): Promise<void>;
  /** Withdraws `version`: installs holding it are moved to the newest version not yanked. */
  yank(app: string, version: string, reason: string): Promise<void>;
}

/** Quotes a shell word when it needs it. */
function word(text: string): string {
  return /^[A-Za-z0-9._%/:=@+-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The CLI command that does what `action` does, for the publisher's CI or terminal. */
export function cliCommandOf(action: DashboardAction, repo: string): string {
  const base = ["updraft"];
  const tail = ["--repo", repo, "--app", action.app];
  switch (action.kind) {
    case "rollout":
      base.push("rollout", "--channel", action.channel, "--percent", String(action.percent));
      break;
    case "halt":
    case "resume":
      base.push("rollout", "--channel", action.channel, `--${action.kind}`);
      break;
    case "promote":
      base.push("promote", "--version", action.version, "--to", action.to);
      break;
    case "yank":
      base.push("yank", "--version", action.version, "--reason", action.reason);
      break;
  }
  return [...base, ...tail].map(word).join(" ");
}

/** Carries out `action` with `actions`. */
export function runAction(actions: DashboardActions, action: DashboardAction): Promise<void> {
  switch (action.kind) {
    case "rollout":
      return actions.setRollout(action.app, action.channel, action.version, action.percent);
    case "halt":
    case "resume":
      return actions.haltRollout(action.app, action.channel, action.version, action.kind === "halt");
    case "promote":
      return actions.promote(action.app, action.version, action.from, action.to);
    case "yank":
      return actions.yank(action.app, action.version, action.reason);
  }
}

const CHANNEL = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/** Reads an action from a submitted form; a sentence saying what is wrong otherwise. */
export function parseActionForm(app: string, form: URLSearchParams): DashboardAction | string {
  const get = (k: string) => form.get(k) ?? "";
  const version = get("version");
  const channel = get("channel");
  if (!/^[0-9A-Za-z.+-]{1,64}$/.test(version)) return "no valid version";
  if (get("kind") !== "yank" && !CHANNEL.test(channel)) return "no valid channel";
  switch (get("kind")) {
    case "rollout": {
      const percent = Number(get("percent"));
      if (!Number.isInteger(percent) || percent < 0 || percent > 100)
        return "the percentage must be a whole number from 0 to 100";
      return { kind: "rollout", app, channel, version, percent };
    }
    case "halt":
      return { kind: "halt", app, channel, version };
    case "resume":
      return { kind: "resume", app, channel, version };
    case "promote": {
      const to = get("to");
      if (!CHANNEL.test(to)) return "no valid channel to promote to";
      return { kind: "promote", app, version, from: channel, to };
    }
    case "yank": {
      const reason = get("reason").trim();
      if (reason === "" || reason.length > 200) return "a yank needs a reason (at most 200 characters)";
      return { kind: "yank", app, version, reason };
    }
    default:
      return "unknown action";
  }
}
