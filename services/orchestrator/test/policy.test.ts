import { describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@mlpipe/contracts';
import { datasetVersionRef } from '@mlpipe/testing';
import { decideRetrain, type RetrainContext } from '../src/core/policy';
import { nextStatus } from '../src/core/jobState';

const version = (trainSamples: number, testSamples = 1000): DatasetVersion => datasetVersionRef('c'.repeat(64), trainSamples, testSamples);
const ctx = (over: Partial<RetrainContext>): RetrainContext => ({
  latest: version(60000),
  champion: null,
  activeJob: false,
  jobExistsForVersion: false,
  minNewSamples: 500,
  enabled: true,
  ...over,
});

describe('retraining policy', () => {
  it('after drift on the champion, retrains on a little new labelled data, and says what it waits for otherwise', () => {
    const champion = { version: 3, trainSamples: 60000, datasetVersion: 'a'.repeat(64) };
    const drift = { version: 3, reasons: ['ink_share: PSI 4.075'] };
    const go = decideRetrain(ctx({ latest: version(60080), champion, drift, minNewSamplesOnDrift: 50 }));
    expect(go).toEqual({ start: true, trigger: { kind: 'drift', reason: expect.stringMatching(/drift on champion v3 \(ink_share: PSI 4.075\); 80 new labelled/) } });
    const wait = decideRetrain(ctx({ latest: version(60010), champion, drift, minNewSamplesOnDrift: 50 }));
    expect(wait).toEqual({ start: false, reason: expect.stringMatching(/10 new labelled train samples \(need 50\): waiting for labelled data/) });
    // Drift reported on an older version no longer says anything about the current champion.
    expect(decideRetrain(ctx({ latest: version(60080), champion, drift: { ...drift, version: 2 }, minNewSamplesOnDrift: 50 }))).toMatchObject({ start: false });
  });

  it('starts the first job when there is no champion', () => {
    expect(decideRetrain(ctx({}))).toEqual({ start: true, trigger: expect.objectContaining({ kind: 'initial' }) });
  });

  it('waits for both splits', () => {
    const d = decideRetrain(ctx({ latest: version(60000, 0) }));
    expect(d).toEqual({ start: false, reason: expect.stringMatching(/lacks a test split/) });
  });

  it('retrains only once enough new samples arrived since the champion', () => {
    const champion = { version: 3, trainSamples: 60000, datasetVersion: 'x' };
    expect(decideRetrain(ctx({ champion, latest: version(60499) }))).toEqual({
      start: false,
      reason: '499 new train samples since champion v3 (threshold 500)',
    });
    expect(decideRetrain(ctx({ champion, latest: version(60500) }))).toEqual({
      start: true,
      trigger: { kind: 'new-data', reason: '500 new train samples since champion v3 (threshold 500)' },
    });
  });

  it('never starts twice for one dataset version, nor beside an active job, nor when disabled', () => {
    expect(decideRetrain(ctx({ jobExistsForVersion: true })).start).toBe(false);
    expect(decideRetrain(ctx({ activeJob: true })).start).toBe(false);
    expect(decideRetrain(ctx({ enabled: false })).start).toBe(false);
  });
});

describe('job state machine', () => {
  it('moves forward and keeps terminal states final', () => {
    expect(nextStatus('queued', 'started')).toBe('running');
    expect(nextStatus('running', 'retrying')).toBe('queued');
    expect(nextStatus('running', 'succeeded')).toBe('succeeded');
    expect(nextStatus('succeeded', 'started')).toBe('succeeded');
    expect(nextStatus('cancelled', 'succeeded')).toBe('cancelled');
    expect(nextStatus('failed', 'retrying')).toBe('failed');
  });
});
