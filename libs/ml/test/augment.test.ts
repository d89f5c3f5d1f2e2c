import { describe, expect, it } from 'vitest';
import {
  augmentInto,
  DEFAULT_AUGMENT,
  IDENTITY_TRANSFORM,
  NO_AUGMENT,
  sampleTransform,
  transformedTestSet,
  transformImage,
  type SampleTransform,
} from '../src/augment';
import { AugmentSchema, PIXELS } from '@mlpipe/contracts';
import { loadMnist } from './mnist';
import { centreOfMass } from './images';

const mnist = loadMnist('t10k', 64);
const STRONG = { rotateDeg: 15, shiftPx: 2, scale: 0.1, strokeProb: 1 };

function batch(order: number[], start: number, count: number, seed: number, epoch: number, cfg = STRONG): Uint8Array {
  const out = new Uint8Array(count * PIXELS);
  augmentInto(out, mnist.images, order, start, count, cfg, seed, epoch);
  return out;
}

const sampleOf = (images: Uint8Array, i: number) => images.slice(i * PIXELS, (i + 1) * PIXELS);

function apply(src: Uint8Array, t: Partial<SampleTransform>): Uint8Array {
  const out = new Uint8Array(PIXELS);
  transformImage(src, 0, { ...IDENTITY_TRANSFORM, ...t }, out, 0);
  return out;
}

function ink(p: Uint8Array): number {
  let sum = 0;
  for (const v of p) sum += v;
  return sum;
}


describe('augmentation is seeded by (seed, epoch, sample index) alone', () => {
  const order = Array.from({ length: 64 }, (_, i) => i);

  it('gives the same pixels for the same seed and epoch, and different ones for another seed or epoch', () => {
    const a = batch(order, 0, 16, 7, 1);
    expect(batch(order, 0, 16, 7, 1)).toEqual(a);
    expect(batch(order, 0, 16, 8, 1)).not.toEqual(a);
    expect(batch(order, 0, 16, 7, 2)).not.toEqual(a);
    // Not merely different somewhere: most samples change.
    const other = batch(order, 0, 16, 7, 2);
    let changed = 0;
    for (let i = 0; i < 16; i++) if (!sampleOf(a, i).every((v, p) => v === other[i * PIXELS + p])) changed++;
    expect(changed).toBeGreaterThanOrEqual(14);
  });

  it('transforms a sample the same whatever batch, position or order it comes in (as on every replica)', () => {
    const shuffled = [...order].reverse();
    const first = batch(order, 0, 64, 3, 5); // sample 10 at position 10
    const second = batch(shuffled, 50, 8, 3, 5); // shuffled[53] = 10, at position 3
    expect(shuffled[53]).toBe(10);
    expect(sampleOf(second, 3)).toEqual(sampleOf(first, 10));
    expect(sampleTransform(STRONG, 3, 5, 10)).toEqual(sampleTransform(STRONG, 3, 5, 10));
  });

  it('returns the input unchanged with the identity config, as bytes or as [0,1] floats', () => {
    expect(batch(order, 0, 64, 1, 1, NO_AUGMENT)).toEqual(mnist.images);
    const floats = new Float32Array(4 * PIXELS);
    augmentInto(floats, mnist.images, [5, 6, 7, 8], 0, 4, NO_AUGMENT, 1, 1);
    expect(floats).toEqual(Float32Array.from(mnist.images.subarray(5 * PIXELS, 9 * PIXELS), (v) => v / 255));
  });

  it('keeps bytes in 0..255 and floats in [0, 1], and actually changes images', () => {
    const cfg = { rotateDeg: 45, shiftPx: 8, scale: 0.5, strokeProb: 1 };
    const bytes = batch(order, 0, 64, 9, 1, cfg);
    expect(bytes).not.toEqual(mnist.images);
    const floats = new Float32Array(64 * PIXELS);
    augmentInto(floats, mnist.images, order, 0, 64, cfg, 9, 1);
    expect(Math.min(...floats)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...floats)).toBeLessThanOrEqual(1);
    for (let p = 0; p < bytes.length; p += 97) expect(Math.abs((floats[p] as number) * 255 - (bytes[p] as number))).toBeLessThanOrEqual(0.5 + 1e-3);
  });

  it('refuses an output buffer too small for the batch', () => {
    expect(() => augmentInto(new Uint8Array(PIXELS), mnist.images, order, 0, 2, STRONG, 1, 1)).toThrow(/needs 1568/);
  });

  it('draws transforms within the configured bounds, strokes changed about as often as asked', () => {
    let stroked = 0;
    for (let i = 0; i < 2000; i++) {
      const t = sampleTransform(DEFAULT_AUGMENT, 1, 1, i);
      expect(Math.abs(t.rotateDeg)).toBeLessThanOrEqual(DEFAULT_AUGMENT.rotateDeg);
      expect(Math.abs(t.dx)).toBeLessThanOrEqual(DEFAULT_AUGMENT.shiftPx);
      expect(Math.abs(t.dy)).toBeLessThanOrEqual(DEFAULT_AUGMENT.shiftPx);
      expect(Math.abs(t.scale - 1)).toBeLessThanOrEqual(DEFAULT_AUGMENT.scale);
      if (t.stroke !== 0) stroked++;
    }
    expect(stroked / 2000).toBeGreaterThan(DEFAULT_AUGMENT.strokeProb - 0.05);
    expect(stroked / 2000).toBeLessThan(DEFAULT_AUGMENT.strokeProb + 0.05);
  });
});

describe('the transforms do what they say', () => {
  it('rotates by +90° clockwise on screen: ink right of centre moves below it', () => {
    const src = new Uint8Array(PIXELS);
    for (let x = 18; x < 24; x++) src[13 * 28 + x] = 255; // a bar right of centre on row 13
    const out = apply(src, { rotateDeg: 90 });
    const [cx, cy] = centreOfMass(out);
    // Centre of the bar (20.5, 13) about (13.5, 13.5) → (14, 20.5).
    expect(cx).toBeCloseTo(14, 0);
    expect(cy).toBeCloseTo(20.5, 0);
    expect(ink(out)).toBeCloseTo(ink(src), -2);
  });

  it('shifts the centre of mass by the shift', () => {
    const digit = sampleOf(mnist.images, 0);
    const [x0, y0] = centreOfMass(digit);
    const [x1, y1] = centreOfMass(apply(digit, { dx: 3, dy: -2 }));
    expect(x1 - x0).toBeCloseTo(3, 1);
    expect(y1 - y0).toBeCloseTo(-2, 1);
  });

  it('scales about the centre: a bigger digit has more ink, a smaller one less', () => {
    const digit = sampleOf(mnist.images, 1);
    expect(ink(apply(digit, { scale: 1.2 }))).toBeGreaterThan(ink(digit) * 1.2);
    expect(ink(apply(digit, { scale: 0.8 }))).toBeLessThan(ink(digit) * 0.8);
  });

  it('thickening adds ink, thinning removes it, by more the stronger it is', () => {
    const digit = sampleOf(mnist.images, 2);
    const base = ink(digit);
    const thick = ink(apply(digit, { stroke: 1 }));
    const thin = ink(apply(digit, { stroke: -0.7 }));
    expect(ink(apply(digit, { stroke: 0.5 }))).toBeGreaterThan(base);
    expect(thick).toBeGreaterThan(ink(apply(digit, { stroke: 0.5 })));
    expect(thin).toBeLessThan(ink(apply(digit, { stroke: -0.3 })));
    expect(thin).toBeLessThan(base);
    expect(thin).toBeGreaterThan(base * 0.2); // thinner, not erased
  });
});

describe('the transformed MNIST test set', () => {
  it('is deterministic per seed, keeps labels, and differs from MNIST and between seeds', () => {
    const a = transformedTestSet(mnist.images, mnist.labels, 32, 11);
    expect(a.count).toBe(32);
    expect(a.labels).toEqual(mnist.labels.slice(0, 32));
    expect(transformedTestSet(mnist.images, mnist.labels, 32, 11)).toEqual(a);
    expect(transformedTestSet(mnist.images, mnist.labels, 32, 12).images).not.toEqual(a.images);
    let changed = 0;
    for (let i = 0; i < 32; i++) if (!sampleOf(a.images, i).every((v, p) => v === mnist.images[i * PIXELS + p])) changed++;
    expect(changed).toBe(32);
  });
});

describe('AugmentSchema', () => {
  it('fills defaults, rejects out-of-range values and unknown keys', () => {
    expect(AugmentSchema.parse({})).toEqual(DEFAULT_AUGMENT);
    expect(AugmentSchema.parse({ rotateDeg: 5 }).rotateDeg).toBe(5);
    expect(() => AugmentSchema.parse({ rotateDeg: 90 })).toThrow();
    expect(() => AugmentSchema.parse({ strokeProb: 1.5 })).toThrow();
    expect(() => AugmentSchema.parse({ rotate: 5 })).toThrow();
  });
});
