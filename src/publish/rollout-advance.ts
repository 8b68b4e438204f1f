/**
 * The decision of `updraft rollout … --advance --max-failure-rate P`: from a release's rollout
 * schedule and its installs' failure rate, whether to move the rollout to its next step, halt
 * it, or leave it as it is. Pure: the caller reads the schedule (channel document) and the rate
 * (`releaseHealth`) and signs what it decides.
 */
import { type RolloutStep, rolloutPercentAt } from "../formats/channel.js";

/** What {@link decideRolloutAdvance} looks at. */
export interface RolloutAdvanceInput {
  /** The schedule, in time order. */
  steps: readonly RolloutStep[];
  /** True when the rollout is halted: only a person resumes it. */
  halted: boolean;
  /** Rolled-back or failed installs over installs that reported, 0 to 1 (`ReleaseHealth.failureRate`). */
  failureRate: number;
  /** Installs that reported about the release (`ReleaseHealth.installs`). */
  reports: number;
  /** Highest acceptable failure rate, 0 to 1 (`--max-failure-rate 2%` is 0.02). */
  maxFailureRate: number;
  /** Reports needed before a rate above 0 % may advance the rollout past its first step (default 10). */
  minReports?: number;
  now: Date;
}

/** What to do, the percentage the release should then be offered to, and why. */
export interface RolloutAdvanceDecision {
  action: "advance" | "halt" | "hold";
  /** The percentage after the decision (0 when halted). */
  percent: number;
  reason: string;
}

/**
 * Decides the next move of a rollout: **halt** when the failure rate is above the limit (whatever
 * the number of reports: a bad release stops early); **advance** to the next step's percentage
 * when the rate is within the limit and enough installs reported; **hold** otherwise (halted,
 * complete, or too few reports yet).
 */
export function decideRolloutAdvance(input: RolloutAdvanceInput): RolloutAdvanceDecision {
  const current = rolloutPercentAt({ rollout: { steps: [...input.steps], halted: false } }, input.now);
  const rate = `${(input.failureRate * 100).toFixed(1)} %`;
  const limit = `${(input.maxFailureRate * 100).toFixed(1)} %`;
  if (input.halted) return { action: "hold", percent: 0, reason: "the rollout is halted; resume it by hand" };
  if (input.reports > 0 && input.failureRate > input.maxFailureRate) {
    return {
      action: "halt",
      percent: 0,
      reason: `${rate} of ${input.reports} reporting installs rolled back or failed, above ${limit}`,
    };
  }
  const next = input.steps.find((s) => s.percent > current);
  if (next === undefined)
    return { action: "hold", percent: current, reason: `the rollout is complete at ${current} %` };
  const needed = input.minReports ?? 10;
  if (current > 0 && input.reports < needed) {
    return {
      action: "hold",
      percent: current,
      reason: `${input.reports} of ${needed} reports needed before advancing`,
    };
  }
  return {
    action: "advance",
    percent: next.percent,
    reason: `${rate} failures (limit ${limit}); next step ${next.percent} %`,
  };
}
