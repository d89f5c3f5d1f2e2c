import { ConflictError, NotFoundError, ValidationError, isTransient } from '@mlpipe/common';

/**
 * What a consumer does with a message its handler failed on, decided from the error and the
 * message's failure history alone (no I/O), with the reason spelt out for the dead letter.
 */

/** Permanent failures: retrying the same message cannot succeed, so it goes to the dead-letter subject. */
export function isPermanent(err: unknown): boolean {
  return err instanceof ValidationError || err instanceof NotFoundError || err instanceof ConflictError;
}

/**
 * permanent: dead-letter now. transient: a dependency is down, wait for it (not counted against
 * maxDeliver, bounded by the transient budget). unknown: probably a bug, retried up to maxDeliver.
 */
export type FailureKind = 'permanent' | 'transient' | 'unknown';

export function classifyFailure(err: unknown): FailureKind {
  if (isPermanent(err)) return 'permanent';
  return isTransient(err) ? 'transient' : 'unknown';
}

/** A message's transient failures so far (kept in the failure ledger across deliveries, processes and replicas). */
export interface TransientHistory {
  /** Deliveries that ended in a transient failure. */
  failures: number;
  /** Sum of the redelivery delays asked for after them: the time the message has waited for its dependency. */
  waitedMs: number;
}

export const NO_TRANSIENT_HISTORY: TransientHistory = Object.freeze({ failures: 0, waitedMs: 0 });

export interface RetryPolicy {
  /** Deliveries that are not transient failures, after which a still-failing message is dead-lettered. */
  maxDeliver: number;
  /** How long transient failures may keep a message waiting, summed over its redelivery delays. */
  transientRetryMs: number;
  /** Redelivery delay by the number of failures of the kind that is being retried (1 for the first). */
  backoffMs: (failures: number) => number;
}

export type Settlement =
  | { action: 'retry'; delayMs: number; history: TransientHistory }
  | { action: 'dead-letter'; reason: string };

/**
 * Counts deliveries that count: every delivery but those that ended in a transient failure. The
 * message's delivery count comes from JetStream; the transient ones from the ledger.
 */
export function attemptOf(deliveryCount: number, history: TransientHistory): number {
  return Math.max(1, deliveryCount - history.failures);
}

/**
 * Before a handler runs: a message whose earlier counted deliveries already reached maxDeliver
 * without being dead-lettered ended them without any result, i.e. the handler took its process down
 * or overran the ack wait every time. It is dead-lettered instead of crashing replicas forever.
 */
export function unsettledTooOften(type: string, attempt: number, policy: RetryPolicy): string | undefined {
  if (attempt <= policy.maxDeliver) return undefined;
  return `${type} was delivered ${attempt - 1} times without a result (maxDeliver ${policy.maxDeliver}): its handler crashed the process or overran the ack wait`;
}

export function decideFailure(input: {
  type: string;
  kind: FailureKind;
  reason: string;
  attempt: number;
  history: TransientHistory;
  policy: RetryPolicy;
}): Settlement {
  const { type, kind, reason, attempt, history, policy } = input;
  if (kind === 'permanent') return { action: 'dead-letter', reason: `${type} failed permanently: ${reason}` };
  if (kind === 'transient') {
    if (history.waitedMs >= policy.transientRetryMs) {
      return {
        action: 'dead-letter',
        reason: `${type} still failing transiently after waiting ${formatMs(history.waitedMs)} over ${history.failures + 1} deliveries (transientRetryMs budget ${formatMs(policy.transientRetryMs)}): ${reason}`,
      };
    }
    const delayMs = policy.backoffMs(history.failures + 1);
    return {
      action: 'retry',
      delayMs,
      history: { failures: history.failures + 1, waitedMs: history.waitedMs + delayMs },
    };
  }
  if (attempt >= policy.maxDeliver) {
    const besides = history.failures ? ` (besides ${history.failures} transient)` : '';
    return { action: 'dead-letter', reason: `${type} still failing after ${attempt} deliveries${besides}: ${reason}` };
  }
  return { action: 'retry', delayMs: policy.backoffMs(attempt), history };
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 6000) / 10} min`;
}
