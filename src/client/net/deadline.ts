/**
 * The overall time limit of one operation (a metadata fetch, an artifact download with its
 * retries), separate from the stall timeout that watches the gaps between bytes.
 */

/** A cancellable time limit; `signal` aborts when it passes. */
export class Deadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;

  /** Starts a deadline of `ms` from now; without `ms` it never expires. */
  constructor(readonly ms?: number) {
    this.signal = this.controller.signal;
    if (ms !== undefined) {
      this.timer = setTimeout(() => this.controller.abort(new Error("deadline passed")), ms);
      this.timer.unref?.();
    }
  }

  /** True once the time is up. */
  get expired(): boolean {
    return this.signal.aborted;
  }

  /** Stops the timer (the operation finished). */
  dispose(): void {
    clearTimeout(this.timer);
  }
}
