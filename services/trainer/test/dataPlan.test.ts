import { describe, expect, it } from 'vitest';
import { HyperparamsSchema } from '@mlpipe/contracts';
import { PIXELS, type LabelledImages } from '@mlpipe/contracts';
import { planData } from '../src/core/dataPlan';
import { renderModelCard } from '../src/core/modelCard';

const set = (count: number, offset = 0): LabelledImages => ({
  images: Uint8Array.from({ length: count * PIXELS }, (_, i) => (Math.floor(i / PIXELS) + offset) % 256),
  labels: Uint8Array.from({ length: count }, (_, i) => (i + offset) % 10),
  count,
});

describe('data plan', () => {
  it('takes the subset, holds out the validation tail and cuts the test split', () => {
    const hp = HyperparamsSchema.parse({ trainSubset: 100, testSubset: 30, validationShare: 0.1 });
    const plan = planData(set(500), set(50, 7), hp);
    expect(plan.train.count).toBe(90);
    expect(plan.validation?.count).toBe(10);
    expect(plan.validation?.labels[0]).toBe(90 % 10);
    expect(plan.validation?.images[0]).toBe(90);
    expect(plan.test.count).toBe(30);
    expect(plan.train.images.length).toBe(90 * PIXELS);
  });

  it('uses everything when subsets are 0 and skips validation when its share is 0', () => {
    const plan = planData(set(40), set(20), HyperparamsSchema.parse({ validationShare: 0 }));
    expect(plan.train.count).toBe(40);
    expect(plan.validation).toBeUndefined();
    expect(plan.test.count).toBe(20);
  });

  it('never asks for more than there is', () => {
    const plan = planData(set(10), set(5), HyperparamsSchema.parse({ trainSubset: 1000, testSubset: 1000, validationShare: 0.5 }));
    expect(plan.train.count + (plan.validation?.count ?? 0)).toBe(10);
    expect(plan.test.count).toBe(5);
  });
});

describe('model card', () => {
  it('states the accuracy, data and per-class results', () => {
    const card = renderModelCard({
      jobId: 'job-1',
      modelName: 'mnist',
      replicaId: 'r',
      dataset: 'mnist',
      datasetVersion: 'f'.repeat(64),
      trainSamples: 900,
      hyperparams: HyperparamsSchema.parse({}),
      backend: 'wasm',
      codeVersion: 'abc',
      evaluation: { testAccuracy: 0.9712, testSamples: 100, perClassAccuracy: Array(10).fill(0.97), confusionMatrix: [] },
      history: [],
      durationSec: 12,
    });
    expect(card).toContain('test accuracy: 97.12%');
    expect(card).toContain('| 9 | 97.00% |');
    expect(card).toContain('900 train samples');
  });
});
