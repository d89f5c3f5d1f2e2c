import { describe, expect, it } from 'vitest';
import { EarlyStoppingSchema, HyperparamsSchema, SweepSpecSchema } from '@mlpipe/contracts';
import { expandTrials, judgeTrial, pickBest, type TrialCurve } from '../src/core/sweep';

const base = HyperparamsSchema.parse({ epochs: 4 });
const curve = (jobId: string, scores: number[], over: Partial<TrialCurve> = {}): TrialCurve => ({
  jobId,
  trial: Number(jobId.slice(1)),
  status: 'running',
  epochs: 4,
  history: scores.map((score, i) => ({ epoch: i + 1, score })),
  pruned: false,
  ...over,
});

describe('sweep trials', () => {
  it('a grid is every combination, in a fixed order, over the base hyperparameters', () => {
    const spec = SweepSpecSchema.parse({ strategy: 'grid', space: { arch: ['cnn-small', 'cnn-deep'], learningRate: [0.01, 0.001], batchSize: [32] } });
    const trials = expandTrials(spec, base);
    expect(trials.map((t) => [t.arch, t.learningRate, t.batchSize, t.epochs])).toEqual([
      ['cnn-small', 0.01, 32, 4],
      ['cnn-small', 0.001, 32, 4],
      ['cnn-deep', 0.01, 32, 4],
      ['cnn-deep', 0.001, 32, 4],
    ]);
    expect(() => expandTrials(SweepSpecSchema.parse({ space: { batchSize: Array.from({ length: 11 }, (_, i) => i + 1), epochs: Array.from({ length: 10 }, (_, i) => i + 1) } }), base)).toThrow(/110 combinations/);
  });

  it('random search draws reproducibly, log-uniform within the range', () => {
    const spec = SweepSpecSchema.parse({ strategy: 'random', trials: 50, seed: 3, space: { learningRate: { min: 1e-4, max: 1e-1 }, epochs: [1, 2] } });
    const a = expandTrials(spec, base);
    expect(a).toEqual(expandTrials(spec, base));
    expect(a).toHaveLength(50);
    for (const t of a) {
      expect(t.learningRate).toBeGreaterThanOrEqual(1e-4);
      expect(t.learningRate).toBeLessThanOrEqual(1e-1);
    }
    // Log-uniform: about a third of the draws in each decade.
    const low = a.filter((t) => t.learningRate < 1e-3).length;
    expect(low).toBeGreaterThan(8);
    expect(low).toBeLessThan(28);
    expect(new Set(a.map((t) => t.epochs))).toEqual(new Set([1, 2]));
    expect(expandTrials({ ...spec, seed: 4 }, base)).not.toEqual(a);
  });
});

describe('early stopping', () => {
  const median = EarlyStoppingSchema.parse({ rule: 'median', minTrials: 3 });
  it('median rule: stops a trial below the median of the others at the same epoch, once enough have got there', () => {
    const others = [curve('t0', [0.8, 0.9]), curve('t1', [0.7, 0.85])];
    expect(judgeTrial(median, curve('t2', [0.1]), others, 1)).toMatchObject({ prune: true, reason: expect.stringMatching(/median rule at epoch 1: 10.0% is below the median 75.0% of 2/) });
    expect(judgeTrial(median, curve('t2', [0.76]), others, 1)).toEqual({ prune: false });
    expect(judgeTrial(median, curve('t2', [0.1]), others.slice(0, 1), 1)).toEqual({ prune: false }); // too few to judge
    expect(judgeTrial(median, curve('t2', [0.1, 0.1, 0.1, 0.1]), others, 4)).toEqual({ prune: false }); // last epoch
    expect(judgeTrial({ ...median, minEpochs: 2 }, curve('t2', [0.1]), others, 1)).toEqual({ prune: false });
    expect(judgeTrial({ ...median, rule: 'none' }, curve('t2', [0.1]), others, 1)).toEqual({ prune: false });
  });

  it('successive halving: at rung epochs keeps the best 1/eta of those that reached it', () => {
    const sh = EarlyStoppingSchema.parse({ rule: 'successive-halving', minEpochs: 1, eta: 2 });
    const others = [curve('t0', [0.9, 0.9]), curve('t1', [0.5, 0.6]), curve('t3', [0.7])];
    expect(judgeTrial(sh, curve('t2', [0.6]), others, 1)).toMatchObject({ prune: true, reason: expect.stringMatching(/best 2 of 4/) });
    expect(judgeTrial(sh, curve('t2', [0.8]), others, 1)).toEqual({ prune: false });
    expect(judgeTrial(sh, curve('t2', [0.1, 0.1, 0.1]), others, 3)).toEqual({ prune: false }); // 3 is not a rung (1, 2, 4)
  });

  it('the best is the finished, unpruned trial with the highest final score', () => {
    const best = pickBest([
      curve('t0', [0.5, 0.9], { status: 'succeeded' }),
      curve('t1', [0.95], { status: 'cancelled', pruned: true }),
      curve('t2', [0.6, 0.92], { status: 'succeeded' }),
      curve('t3', [0.99], { status: 'failed' }),
    ]);
    expect(best).toEqual({ jobId: 't2', reason: 'trial 2 has the best validation accuracy (92.0%) of 2 finished trials' });
    expect(pickBest([curve('t0', [0.5], { status: 'failed' })])).toBeUndefined();
  });
});
