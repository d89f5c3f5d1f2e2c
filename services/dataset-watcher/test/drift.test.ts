import { describe, expect, it } from 'vitest';
import { parseIdx, readSeedFile, PIXELS } from '@mlpipe/dataset';
import { assessDrift, buildReference, chiSquare, featurePsi, ksTwoSample } from '../src/core/drift';
import { dilate, rotate } from './images';

const train = parseIdx(readSeedFile('mnist', 'train-images-idx3-ubyte')).data;
const trainLabels = parseIdx(readSeedFile('mnist', 'train-labels-idx1-ubyte')).data;
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const labels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
const image = (i: number) => images.subarray(i * PIXELS, (i + 1) * PIXELS);
/** The champion's training data: all of MNIST's train split (a 5,000-image sample of its features). */
const reference = buildReference(train, trainLabels, 60_000, 5000);
/**
 * 400 test images spread over the whole test split (whose two halves come from different groups
 * of writers, like the train split), with their true labels standing in for a good model's answers.
 */
const window = Array.from({ length: 400 }, (_, k) => k * 25);
const truth = window.map((i) => labels[i] as number);

describe('drift statistics', () => {
  it('match textbook values: KS p near 0.05 at the critical D, chi-square 4 on 1 dof', () => {
    const a = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const b = a.map((x) => x + 0.061);
    const ks = ksTwoSample(a, b);
    expect(ks.d).toBeCloseTo(0.062, 3);
    expect(ks.pValue).toBeGreaterThan(0.03);
    expect(ks.pValue).toBeLessThan(0.07);
    expect(ksTwoSample(a, a)).toEqual({ d: 0, pValue: 1 });
    const chi = chiSquare([60, 40], [0.5, 0.5]);
    expect(chi.statistic).toBeCloseTo(4, 10);
    expect(chi.pValue).toBeCloseTo(0.0455, 3);
    expect(featurePsi(a, a)).toBeCloseTo(0, 6);
    expect(featurePsi(a, b)).toBeGreaterThan(0);
  });

  it('does not flag an in-distribution batch', () => {
    const verdict = assessDrift(reference, window.map(image), truth);
    expect(verdict.reasons).toEqual([]);
    expect(verdict.drifted).toBe(false);
    expect(verdict.tests).toHaveLength(6);
  });

  it.each([
    ['thickened (3×3 dilation)', (i: number) => dilate(image(i))],
    ['rotated by 40°', (i: number) => rotate(image(i), 40)],
    ['inverted (dark ink on light)', (i: number) => image(i).map((v) => 255 - v)],
  ])('flags %s digits on their input features', (_name, transform) => {
    const verdict = assessDrift(reference, window.map(transform), truth);
    expect(verdict.drifted).toBe(true);
    expect(verdict.tests.filter((t) => t.drifted && t.kind === 'ks').length).toBeGreaterThan(0);
  });

  it('flags skewed predictions on the class test alone', () => {
    const skewed = truth.map((c, k) => (k % 3 === 0 ? 1 : c));
    const verdict = assessDrift(reference, window.map(image), skewed);
    expect(verdict.drifted).toBe(true);
    expect(verdict.tests.filter((t) => t.drifted).map((t) => t.name)).toEqual(['predicted_class']);
  });

  it('flags a window of only the second half of the test split (other writers, heavier ink) as a moderate shift', () => {
    const second = Array.from({ length: 400 }, (_, k) => 8000 + k * 5);
    const verdict = assessDrift(reference, second.map(image), second.map((i) => labels[i] as number));
    expect(verdict.drifted).toBe(true);
    expect(verdict.tests.filter((t) => t.drifted).map((t) => t.name)).toContain('ink_share');
  });

  it('gives no verdict on too few samples', () => {
    expect(assessDrift(reference, window.slice(0, 20).map(image), truth.slice(0, 20))).toMatchObject({ drifted: false, reasons: [expect.stringMatching(/too few samples/)] });
  });
});
