import type { Hyperparams } from '@mlpipe/contracts';

/** The principal a request without `submittedBy` counts against. */
export const ANONYMOUS = 'anonymous';

export const principalOf = (submittedBy: string | undefined): string => submittedBy ?? ANONYMOUS;

/** What one principal may ask for (OrchestratorConfig's QUOTA_* settings). */
export interface QuotaLimits {
  maxEpochs: number;
  maxReplicas: number;
  maxBatchSize: number;
  /** 0: no cap; else trainSubset must be 1..maxTrainSubset. */
  maxTrainSubset: number;
  maxSweepTrials: number;
  maxActiveJobs: number;
}

/** A verdict with its reason: `cap` is a request that can never pass (400), `busy` one that may pass later (429). */
export type QuotaVerdict = { ok: true } | { ok: false; kind: 'cap' | 'busy'; reason: string };

const OK: QuotaVerdict = { ok: true };
const cap = (reason: string): QuotaVerdict => ({ ok: false, kind: 'cap', reason });

/** One job's (or trial's) size against the caps; the first violation is the reason. */
export function checkJobSize(limits: QuotaLimits, hyperparams: Pick<Hyperparams, 'epochs' | 'batchSize' | 'trainSubset'>, replicas: number, what = 'the job'): QuotaVerdict {
  if (hyperparams.epochs > limits.maxEpochs) return cap(`${what} asks for ${hyperparams.epochs} epochs; at most ${limits.maxEpochs} (QUOTA_MAX_EPOCHS)`);
  if (replicas > limits.maxReplicas) return cap(`${what} asks for ${replicas} replicas; at most ${limits.maxReplicas} (QUOTA_MAX_REPLICAS)`);
  if (hyperparams.batchSize > limits.maxBatchSize) return cap(`${what} asks for a batch size of ${hyperparams.batchSize}; at most ${limits.maxBatchSize} (QUOTA_MAX_BATCH_SIZE)`);
  if (limits.maxTrainSubset > 0 && (hyperparams.trainSubset === 0 || hyperparams.trainSubset > limits.maxTrainSubset)) {
    const asked = hyperparams.trainSubset === 0 ? 'the whole train split (trainSubset 0)' : `${hyperparams.trainSubset} train samples`;
    return cap(`${what} asks for ${asked}; at most ${limits.maxTrainSubset} (QUOTA_MAX_TRAIN_SUBSET)`);
  }
  return OK;
}

/** A sweep: its number of trials, then each trial's size. */
export function checkSweep(limits: QuotaLimits, trials: readonly Pick<Hyperparams, 'epochs' | 'batchSize' | 'trainSubset'>[]): QuotaVerdict {
  if (trials.length > limits.maxSweepTrials) return cap(`the sweep has ${trials.length} trials; at most ${limits.maxSweepTrials} (QUOTA_MAX_SWEEP_TRIALS)`);
  for (const [i, t] of trials.entries()) {
    const verdict = checkJobSize(limits, t, 1, `trial ${i}`);
    if (!verdict.ok) return verdict;
  }
  return OK;
}

/** Whether `adding` more jobs fit next to the principal's `active` (queued or running) ones. */
export function checkActiveJobs(limits: QuotaLimits, principal: string, active: number, adding: number): QuotaVerdict {
  if (active + adding <= limits.maxActiveJobs) return OK;
  if (adding > limits.maxActiveJobs) return cap(`${adding} jobs at once are more than ${principal} may ever have queued or running (${limits.maxActiveJobs}, QUOTA_MAX_ACTIVE_JOBS)`);
  return {
    ok: false,
    kind: 'busy',
    reason: `${principal} has ${active} jobs queued or running; ${adding} more would pass the quota of ${limits.maxActiveJobs} (QUOTA_MAX_ACTIVE_JOBS): wait for some to end, or cancel them`,
  };
}
