import { describe, expect, it } from 'vitest';
import { HyperparamsSchema } from '@mlpipe/contracts';
import { ANONYMOUS, checkActiveJobs, checkJobSize, checkSweep, principalOf, type QuotaLimits } from '../src/core/quota';

const limits: QuotaLimits = { maxEpochs: 10, maxReplicas: 4, maxBatchSize: 256, maxTrainSubset: 0, maxSweepTrials: 5, maxActiveJobs: 6 };
const hp = (over: object = {}) => HyperparamsSchema.parse({ epochs: 2, batchSize: 64, ...over });

describe('quotas', () => {
  it('lets a job within every cap through, at the caps too', () => {
    expect(checkJobSize(limits, hp(), 1)).toEqual({ ok: true });
    expect(checkJobSize(limits, hp({ epochs: 10, batchSize: 256 }), 4)).toEqual({ ok: true });
  });

  it('refuses a job past a cap for good (cap), naming the value, the cap and the setting', () => {
    expect(checkJobSize(limits, hp({ epochs: 11 }), 1)).toEqual({ ok: false, kind: 'cap', reason: 'the job asks for 11 epochs; at most 10 (QUOTA_MAX_EPOCHS)' });
    expect(checkJobSize(limits, hp(), 5)).toMatchObject({ ok: false, kind: 'cap', reason: expect.stringMatching(/5 replicas; at most 4 \(QUOTA_MAX_REPLICAS\)/) });
    expect(checkJobSize(limits, hp({ batchSize: 512 }), 1)).toMatchObject({ ok: false, reason: expect.stringMatching(/batch size of 512; at most 256 \(QUOTA_MAX_BATCH_SIZE\)/) });
  });

  it('caps the train subset only when set, and then "all" (0) does not pass', () => {
    expect(checkJobSize(limits, hp({ trainSubset: 0 }), 1)).toEqual({ ok: true });
    const capped = { ...limits, maxTrainSubset: 1000 };
    expect(checkJobSize(capped, hp({ trainSubset: 1000 }), 1)).toEqual({ ok: true });
    expect(checkJobSize(capped, hp({ trainSubset: 1001 }), 1)).toMatchObject({ ok: false, reason: expect.stringMatching(/1001 train samples; at most 1000/) });
    expect(checkJobSize(capped, hp({ trainSubset: 0 }), 1)).toMatchObject({ ok: false, reason: expect.stringMatching(/whole train split/) });
  });

  it('refuses a sweep with too many trials, or one trial past a cap, naming the trial', () => {
    expect(checkSweep(limits, [hp(), hp()])).toEqual({ ok: true });
    expect(checkSweep(limits, Array.from({ length: 6 }, () => hp()))).toEqual({ ok: false, kind: 'cap', reason: 'the sweep has 6 trials; at most 5 (QUOTA_MAX_SWEEP_TRIALS)' });
    expect(checkSweep(limits, [hp(), hp({ epochs: 20 })])).toMatchObject({ ok: false, kind: 'cap', reason: expect.stringMatching(/^trial 1 asks for 20 epochs/) });
  });

  it('counts active jobs per principal: busy (may pass later) when they would not fit, cap when they never could', () => {
    expect(checkActiveJobs(limits, 'ann', 5, 1)).toEqual({ ok: true });
    expect(checkActiveJobs(limits, 'ann', 6, 1)).toMatchObject({ ok: false, kind: 'busy', reason: expect.stringMatching(/ann has 6 jobs queued or running; 1 more would pass the quota of 6/) });
    expect(checkActiveJobs(limits, 'ann', 3, 4)).toMatchObject({ ok: false, kind: 'busy' });
    expect(checkActiveJobs(limits, 'ann', 0, 7)).toMatchObject({ ok: false, kind: 'cap' });
  });

  it('counts a request without a principal against "anonymous"', () => {
    expect(principalOf(undefined)).toBe(ANONYMOUS);
    expect(principalOf('token:ops')).toBe('token:ops');
  });
});
