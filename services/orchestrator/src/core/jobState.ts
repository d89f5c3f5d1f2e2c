import type { JobStatus } from '@mlpipe/contracts';

export type JobSignal = 'started' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';

const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Job state machine. Events may arrive late or twice (at-least-once delivery), so a signal
 * that does not fit the current state is ignored rather than an error: a terminal state is final.
 */
export function nextStatus(current: JobStatus, signal: JobSignal): JobStatus {
  if (TERMINAL.has(current)) return current;
  switch (signal) {
    case 'started':
      return 'running';
    case 'retrying':
      return 'queued';
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
  }
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.has(status);
}
