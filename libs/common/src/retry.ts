import { isTransient } from './errors';

export interface RetryOptions {
  /** Keep trying for this long after the first failure. */
  forMs: number;
  /** Longest wait between tries (the waits double from 500 ms up to it). */
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Told of every failure that will be retried (to log it, or to show the work is alive). */
  onRetry?: (err: unknown, tries: number, waitMs: number) => void;
}

/**
 * Runs `work` again while it fails transiently (a dependency down or overloaded), for up to
 * `forMs`: an outage of the store or the database becomes a wait instead of a failure. A permanent
 * failure, or a transient one past the budget, is thrown as it is.
 */
export async function retryWhileTransient<T>(work: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const giveUpAt = Date.now() + opts.forMs;
  for (let tries = 1; ; tries++) {
    try {
      return await work();
    } catch (err) {
      if (!isTransient(err) || Date.now() >= giveUpAt || opts.signal?.aborted) throw err;
      const waitMs = Math.min(opts.maxDelayMs ?? 10_000, 500 * 2 ** (tries - 1), Math.max(0, giveUpAt - Date.now()));
      opts.onRetry?.(err, tries, waitMs);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}
