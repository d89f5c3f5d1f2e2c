/**
 * How much one incoming batch may be, so a batch cannot take the watcher's memory or the event's
 * size: its files in all (bytes, checked from the folder listing before anything is read), its
 * samples, and the rows of a labels CSV (checked before the images are allocated). A batch past
 * them is rejected with the reason, like any invalid batch: nothing of it is written.
 */
export interface IncomingLimits {
  maxBatchBytes: number;
  maxSamples: number;
  maxCsvRows: number;
}

/** Room for a whole MNIST or Fashion-MNIST split (60 000 samples, 47 MB as IDX) in one batch. */
export const DEFAULT_INCOMING_LIMITS: IncomingLimits = Object.freeze({ maxBatchBytes: 256 * 1024 * 1024, maxSamples: 100_000, maxCsvRows: 100_000 });

/** Reasons a rejection carries at most: a CSV of 100 000 bad rows must not make an event bigger than NATS takes. */
export const MAX_REASONS = 20;

/** The first reasons, and how many more there were. */
export function boundedReasons(reasons: readonly string[], max = MAX_REASONS): string[] {
  if (reasons.length <= max) return [...reasons];
  return [...reasons.slice(0, max), `… and ${reasons.length - max} more problems`];
}
