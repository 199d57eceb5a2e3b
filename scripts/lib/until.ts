// Polling until something holds: the one helper the tests, the benches and the scripts share.
// It lives here rather than in test/support because bench/ and scripts/ are not tests (they run
// under plain tsx, without vitest) and should not reach into test/ for a utility; nothing here
// imports anything, so any of them can use it.

export interface UntilOptions {
  /** Give up after this long (default 10 s). At least one probe always runs. */
  timeoutMs?: number;
  /** Pause between probes (default 100 ms). */
  intervalMs?: number;
  /** A probe that throws counts as "not yet" (default: the error ends the wait). */
  ignoreErrors?: boolean;
  /** More to say when it times out (a process's output, the state seen), computed then. */
  context?: () => string | undefined;
}

/** What a probe's truthy answer can be. */
export type Truthy<T> = Exclude<T, null | undefined | false | 0 | '' | 0n>;

/**
 * Calls `probe` until it returns a truthy value, and returns that value; throws
 * `timed out after <timeoutMs> ms waiting for <what>` (plus the context) when time runs out.
 */
export async function until<T>(what: string | (() => string), probe: () => T | Promise<T>, options: UntilOptions = {}): Promise<Truthy<T>> {
  const { timeoutMs = 10_000, intervalMs = 100, ignoreErrors = false, context } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = ignoreErrors
      ? await Promise.resolve()
          .then(probe)
          .catch(() => undefined)
      : await probe();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) {
      const extra = context?.();
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${extra ? `\n${extra}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
