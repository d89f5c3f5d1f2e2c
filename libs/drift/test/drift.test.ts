import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@mlpipe/common';
import { PIXELS, type DigitImages } from '@mlpipe/contracts';
import { FASHION_MNIST_DIR, dilate, parseIdx, readSeedFile, rotate, type SeedFile } from '@mlpipe/dataset';
import {
  assessDrift,
  buildReference,
  chiSquareGoodnessOfFit,
  FEATURE_NAMES,
  imageFeatures,
  kolmogorovSurvival,
  ksTwoSample,
  parseDriftReference,
  psi,
  quantilePsi,
  type DriftAssessment,
} from '../src/index';

function load(dataset: 'mnist' | 'fashion-mnist', images: SeedFile, labels: SeedFile): { batch: DigitImages; labels: Uint8Array } {
  const data = parseIdx(readSeedFile(dataset, images)).data;
  return { batch: { images: data, count: data.length / PIXELS }, labels: parseIdx(readSeedFile(dataset, labels)).data };
}

function slice(batch: DigitImages, from: number, count: number): DigitImages {
  return { images: batch.images.slice(from * PIXELS, (from + count) * PIXELS), count };
}

/** `count` images drawn at random (seeded) from [from, to): MNIST's order groups writers, so contiguous slices are not random batches. */
function sample(source: { batch: DigitImages; labels: Uint8Array }, from: number, to: number, count: number, seed: number): { batch: DigitImages; labels: Uint8Array } {
  let state = seed;
  const next = () => (state = (state * 48271) % 2147483647) / 2147483647;
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const i = from + Math.floor(next() * (to - from));
    images.set(source.batch.images.subarray(i * PIXELS, (i + 1) * PIXELS), k * PIXELS);
    labels[k] = source.labels[i] as number;
  }
  return { batch: { images, count }, labels };
}

function mapImages(batch: DigitImages, f: (img: Uint8Array, i: number) => Uint8Array): DigitImages {
  const images = new Uint8Array(batch.images.length);
  for (let i = 0; i < batch.count; i++) images.set(f(batch.images.subarray(i * PIXELS, (i + 1) * PIXELS), i), i * PIXELS);
  return { images, count: batch.count };
}

function flagged(a: DriftAssessment): string[] {
  return a.status === 'too-few-samples' ? [] : [...FEATURE_NAMES.filter((n) => a.features[n].drifted), ...(a.predictions.drifted ? ['predicted_class'] : [])];
}

// Labels stand in for the champion's predictions: a 99% model predicts almost exactly them.
const train = load('mnist', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte');
const test = load('mnist', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte');
// The reference: 5000 of the first 50,000 training images (a seeded random sample), class shares of all 50,000
const reference = buildReference(slice(train.batch, 0, 50_000), train.labels.subarray(0, 50_000));
const BATCH = 500;
const { batch: testBatch, labels: testLabels } = sample(test, 0, 10_000, BATCH, 1);

describe('statistics against known values', () => {
  it('Kolmogorov survival function matches scipy.special.kolmogorov and the textbook critical values', () => {
    // Given λ on both sides of the switch between the two series
    const scipy: [number, number][] = [
      [0.3, 0.9999906941986655],
      [0.5, 0.9639452436648751],
      [0.8, 0.5441424115741981],
      [1.0, 0.26999967167735456],
      [1.17, 0.12939004218561884],
      [1.19, 0.11774229287977166],
      [2.0, 0.0006709252557796953],
      [3.0, 3.045995948942526e-8],
    ];
    for (const [lambda, q] of scipy) expect(kolmogorovSurvival(lambda)).toBeCloseTo(q, 12);
    // Then the classic two-sided critical values 1.224, 1.358, 1.628 give 10%, 5%, 1%
    expect(kolmogorovSurvival(1.2238)).toBeCloseTo(0.1, 3);
    expect(kolmogorovSurvival(1.3581)).toBeCloseTo(0.05, 4);
    expect(kolmogorovSurvival(1.6276)).toBeCloseTo(0.01, 4);
    expect(kolmogorovSurvival(0)).toBe(1);
  });

  it('two-sample KS gives scipy.stats.ks_2samp’s D and the asymptotic p-value', () => {
    const a = [0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28, 2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47];
    const b = [2.2, 1.66, 1.38, 0.2, 0.36, 0, 0.96, 1.56, 0.44, 1.5, -0.3, 0.66, 2.31, 3.29, -0.27, -0.37, 0.38, 0.7, 0.52, -0.71, 1.1];
    const r = ksTwoSample([...a].sort((x, y) => x - y), [...b].sort((x, y) => x - y));
    expect(r.d).toBeCloseTo(0.2438095238095238, 12);
    expect(r.pValue).toBeCloseTo(0.5061605558561821, 10); // scipy.special.kolmogorov(sqrt(25·21/46)·D)
    // Ties across the samples step together: identical samples are at distance 0
    expect(ksTwoSample([1, 1, 2, 2], [1, 2]).d).toBe(0);
    expect(ksTwoSample([0, 0, 0], [1, 1]).d).toBe(1);
  });

  it('chi-square goodness of fit reproduces scipy.stats.chisquare’s documented example', () => {
    const expected = [20, 20, 30, 40, 60, 30].map((e) => e / 200);
    const r = chiSquareGoodnessOfFit([30, 14, 34, 45, 57, 20], expected);
    expect(r.statistic).toBeCloseTo(11.441666666666666, 10);
    expect(r.dof).toBe(5);
    expect(r.pValue).toBeCloseTo(0.04329313031580497, 8);
  });

  it('PSI is 0 for equal shares, symmetric, and finite with empty bins', () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    // (0.7−0.5)·ln(0.7/0.5) + (0.3−0.5)·ln(0.3/0.5)
    expect(psi([0.5, 0.5], [0.7, 0.3])).toBeCloseTo(0.2 * Math.log(1.4) - 0.2 * Math.log(0.6), 12);
    expect(psi([0.7, 0.3], [0.5, 0.5])).toBeCloseTo(psi([0.5, 0.5], [0.7, 0.3]), 12);
    expect(Number.isFinite(psi([1, 0], [0, 1]))).toBe(true);
    // A feature with many ties (ink share of blank images) still bins sensibly
    expect(quantilePsi([0, 0, 0, 0, 0, 0, 0, 0, 1, 2], [0, 0, 0, 0, 0, 0, 0, 0, 1, 2])).toBe(0);
  });
});

describe('features', () => {
  it('describe a drawn bar: position, spread, slant and stroke width', () => {
    // Given a vertical bar 3 pixels wide (columns 10..12) over rows 4..23
    const img = new Uint8Array(PIXELS);
    for (let y = 4; y < 24; y++) for (let x = 10; x < 13; x++) img[y * 28 + x] = 255;
    const f = imageFeatures(img);
    expect(f.ink_share).toBeCloseTo(60 / PIXELS, 12);
    expect(f.mean_intensity).toBeCloseTo(60 / PIXELS, 12);
    expect(f.centroid_x).toBeCloseTo(11, 12);
    expect(f.centroid_y).toBeCloseTo(13.5, 12);
    expect(f.spread_x).toBeCloseTo(Math.sqrt(2 / 3), 12);
    expect(f.slant).toBeCloseTo(0, 12);
    // 60 ink pixels, 42 on the edge (all but the 18 middle-column interior ones): 2·60/42 ≈ 2.9
    expect(f.stroke_width).toBeCloseTo(120 / 42, 12);
    expect(imageFeatures(new Uint8Array(PIXELS))).toMatchObject({ ink_share: 0, centroid_x: 13.5, spread_x: 0, stroke_width: 0 });
  });
});

describe('reference', () => {
  it('is JSON that parses back to the same reference, capped at 5000 sorted samples', () => {
    expect(reference.count).toBe(50_000);
    expect(reference.features.centroid_x).toHaveLength(5000);
    expect(reference.classShares.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    // Rebuilding gives the same sample (seeded), a smaller input is kept whole
    expect(buildReference(slice(train.batch, 0, 50_000), train.labels.subarray(0, 50_000))).toEqual(reference);
    expect(buildReference(slice(train.batch, 0, 300), train.labels.subarray(0, 300)).features.slant).toHaveLength(300);
    expect(parseDriftReference(JSON.parse(JSON.stringify(reference)))).toEqual(reference);
    expect(() => parseDriftReference({ ...reference, classShares: [1] })).toThrow(ValidationError);
    expect(() => parseDriftReference({ ...reference, features: { ...reference.features, slant: [2, 1] } })).toThrow(/sorted/);
  });

  it('rejects batches whose sizes do not add up and classes outside 0..9', () => {
    expect(() => buildReference({ images: new Uint8Array(100), count: 1 }, [0])).toThrow(ValidationError);
    expect(() => assessDrift(reference, testBatch, testLabels.subarray(0, 10))).toThrow(/500 images but 10 predictions/);
    expect(() => assessDrift(reference, slice(testBatch, 0, 1), [10])).toThrow(/classes are integers/);
  });
});

describe('assessDrift on MNIST', () => {
  it('does not flag in-distribution batches (test set, and train images outside the reference)', () => {
    for (const { batch, labels } of [{ batch: testBatch, labels: testLabels }, sample(test, 0, 10_000, BATCH, 2), sample(train, 50_000, 60_000, BATCH, 3)]) {
      const a = assessDrift(reference, batch, labels);
      expect(a.reasons).toEqual([]);
      expect(a.status).toBe('stable');
    }
  });

  it.each([
    ['rotated 30°', (img: Uint8Array) => rotate(img, 30), ['slant', 'spread_y']],
    ['rotated −45°', (img: Uint8Array) => rotate(img, -45), ['slant', 'spread_y']],
    ['thickened (3×3 dilation)', dilate, ['ink_share', 'stroke_width']],
    ['inverted (black ink on white)', (img: Uint8Array) => img.map((v) => 255 - v), ['mean_intensity', 'ink_share']],
  ])('flags digits %s on the features that describe the change', (_name, transform, expected) => {
    const a = assessDrift(reference, mapImages(testBatch, transform), testLabels);
    expect(a.status).toBe('drifted');
    expect(flagged(a)).toEqual(expect.arrayContaining(expected));
    expect(flagged(a)).not.toContain('predicted_class');
  });

  const haveFashion = existsSync(FASHION_MNIST_DIR);
  // Without CI a machine may lack Debian's dataset-fashion-mnist; in CI a missing copy fails here.
  it.skipIf(!haveFashion && !process.env.CI)('flags Fashion-MNIST images', () => {
    const fashion = load('fashion-mnist', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte');
    const a = assessDrift(reference, slice(fashion.batch, 0, BATCH), fashion.labels.subarray(0, BATCH));
    expect(a.status).toBe('drifted');
    expect(flagged(a).length).toBeGreaterThan(1);
  });

  it('flags skewed predictions by chi-square and PSI while the features stay stable', () => {
    // Given in-distribution images but a model that now answers "1" for 40% of them
    const skewed = Array.from(testLabels, (c, i) => (i % 5 < 2 ? 1 : c));
    const a = assessDrift(reference, testBatch, skewed);
    expect(a.status).toBe('drifted');
    expect(flagged(a)).toEqual(['predicted_class']);
    if (a.status === 'too-few-samples') throw new Error('unreachable');
    expect(a.predictions.pValue).toBeLessThan(a.perTestAlpha);
    expect(a.predictions.psi).toBeGreaterThanOrEqual(0.2);
    expect(a.predictions.dof).toBe(9);
  });

  it('gives no verdict on too few samples', () => {
    const a = assessDrift(reference, mapImages(slice(testBatch, 0, 50), (img) => img.map((v) => 255 - v)), testLabels.subarray(0, 50));
    expect(a).toEqual({ status: 'too-few-samples', drifted: false, samples: 50, reasons: ['too few samples: 50 < 100, no verdict'] });
  });
});
