import { mulberry32 } from '@mlpipe/common';
import { AugmentSchema, PIXELS, type Augment, type LabelledImages } from '@mlpipe/contracts';

/**
 * Seeded data augmentation for 28×28 uint8 digits (white ink on black): rotation, shift and
 * scaling about the image centre (one inverse affine map, bilinear sampling, black outside), then
 * thicker or thinner strokes (a 3×3 grey dilation or erosion, blended in by a random fraction).
 *
 * A sample's transform is a function of (seed, epoch, index in the dataset) only — never of its
 * batch, its position in the batch or the replica — so every data-parallel replica that sees a
 * sample draws the same pixels for it, and N-replica training stays equivalent to one replica.
 */

// A job's `augment` hyperparameter (`Augment`) is defined in contracts with the other hyperparameters.
export const DEFAULT_AUGMENT: Readonly<Augment> = Object.freeze(AugmentSchema.parse({}));

/** No change at all: `augmentInto` with it copies (or scales to [0,1]) the input. */
export const NO_AUGMENT: Readonly<Augment> = Object.freeze({ rotateDeg: 0, shiftPx: 0, scale: 0, strokeProb: 0 });

/**
 * The "transformed MNIST" test set's transforms: stronger than training's, meant to look like digits
 * drawn in a browser (tilted, off-centre, bigger or smaller, a thicker or thinner pen).
 */
export const TRANSFORMED_TEST_AUGMENT: Readonly<Augment> = Object.freeze({ rotateDeg: 20, shiftPx: 3, scale: 0.15, strokeProb: 2 / 3 });

/** One sample's drawn transform. `stroke` > 0 thickens by that fraction of a dilation, < 0 thins. */
export interface SampleTransform {
  rotateDeg: number;
  /** Shift of the content, in pixels: +dx moves ink right, +dy moves it down. */
  dx: number;
  dy: number;
  /** Size factor: > 1 makes the digit bigger. */
  scale: number;
  /** In [-1, 1]: fraction of the 3×3 dilation (> 0) or erosion (< 0) blended into the image. */
  stroke: number;
}

export const IDENTITY_TRANSFORM: Readonly<SampleTransform> = Object.freeze({ rotateDeg: 0, dx: 0, dy: 0, scale: 1, stroke: 0 });

// Erosion blended in fully would wipe out MNIST's 2-pixel strokes; thinning is capped below that.
const THICKEN_RANGE = [0.4, 1] as const;
const THIN_RANGE = [0.3, 0.7] as const;

/** Mixes (seed, epoch, index) into one 32-bit seed (murmur3's finaliser after each word). */
export function sampleSeed(seed: number, epoch: number, index: number): number {
  let h = 0x9e3779b9;
  for (const word of [seed, epoch, index]) {
    h = Math.imul(h ^ (word >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** The transform of dataset sample `index` in `epoch`. Always draws the same five numbers, in order. */
export function sampleTransform(cfg: Augment, seed: number, epoch: number, index: number): SampleTransform {
  const rand = mulberry32(sampleSeed(seed, epoch, index));
  const between = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const rotateDeg = between(-cfg.rotateDeg, cfg.rotateDeg);
  const dx = between(-cfg.shiftPx, cfg.shiftPx);
  const dy = between(-cfg.shiftPx, cfg.shiftPx);
  const scale = between(1 - cfg.scale, 1 + cfg.scale);
  const pick = rand();
  const amount = rand();
  let stroke = 0;
  if (pick < cfg.strokeProb / 2) stroke = THICKEN_RANGE[0] + (THICKEN_RANGE[1] - THICKEN_RANGE[0]) * amount;
  else if (pick < cfg.strokeProb) stroke = -(THIN_RANGE[0] + (THIN_RANGE[1] - THIN_RANGE[0]) * amount);
  return { rotateDeg, dx, dy, scale, stroke };
}

// The source is copied into a black-bordered 30×30 float grid so bilinear reads need no bounds checks.
const PADDED_PIXELS = 30 * 30;

// Scratch buffers reused by every call: augmentation runs on every training batch, and hot loops
// read only locals (module bindings in loops cost a lot when the code runs through a TS loader).
const scratch = { padded: new Float32Array(PADDED_PIXELS), img: new Float32Array(PIXELS), tmp: new Float32Array(PIXELS), filtered: new Float32Array(PIXELS) };

/**
 * Applies `t` to the image at `src[srcOffset…+784]` and writes it to `out[outOffset…+784]`:
 * bytes 0..255 into a Uint8Array, or model input in [0, 1] (value / 255) into a Float32Array.
 */
export function transformImage(
  src: Uint8Array,
  srcOffset: number,
  t: SampleTransform,
  out: Float32Array | Uint8Array,
  outOffset: number,
): void {
  const { img, padded, tmp, filtered } = scratch;
  const n = img.length;
  if (t.rotateDeg === 0 && t.dx === 0 && t.dy === 0 && t.scale === 1) {
    for (let p = 0; p < n; p++) img[p] = src[srcOffset + p] as number;
  } else {
    pad(src, srcOffset, padded);
    affine(padded, t, img);
  }
  if (t.stroke !== 0) strokeFilter(img, t.stroke, tmp, filtered);
  if (out instanceof Uint8Array) {
    for (let p = 0; p < n; p++) out[outOffset + p] = Math.round(img[p] as number);
  } else {
    for (let p = 0; p < n; p++) out[outOffset + p] = (img[p] as number) / 255;
  }
}

function pad(src: Uint8Array, base: number, padded: Float32Array): void {
  const side = 28;
  const w = side + 2;
  // Only the interior is written, so the one-pixel border stays black from allocation on.
  for (let y = 0; y < side; y++) {
    const from = base + y * side;
    const to = (y + 1) * w + 1;
    for (let x = 0; x < side; x++) padded[to + x] = src[from + x] as number;
  }
}

/**
 * Inverse mapping: each output pixel asks where it came from — undo the shift, then the rotation
 * and scale about the centre — and reads that point bilinearly (pixels outside count as black).
 */
function affine(padded: Float32Array, t: SampleTransform, img: Float32Array): void {
  const side = 28;
  const w = side + 2;
  const centre = (side - 1) / 2;
  const rad = (t.rotateDeg * Math.PI) / 180;
  // Rotating content by +θ (clockwise on screen, y pointing down) means sampling at R(-θ)·p / scale.
  const c = Math.cos(rad) / t.scale;
  const s = Math.sin(rad) / t.scale;
  for (let y = 0; y < side; y++) {
    const vy = y - centre - t.dy;
    // Source coordinates shifted by +1 into the padded grid.
    let sx = c * (-centre - t.dx) + s * vy + centre + 1;
    let sy = -s * (-centre - t.dx) + c * vy + centre + 1;
    for (let x = 0; x < side; x++, sx += c, sy -= s) {
      let v = 0;
      if (sx > 0 && sy > 0 && sx < w - 1 && sy < w - 1) {
        const x0 = sx | 0;
        const y0 = sy | 0;
        const fx = sx - x0;
        const fy = sy - y0;
        const i = y0 * w + x0;
        const a = padded[i] as number;
        const b = padded[i + 1] as number;
        const d = padded[i + w] as number;
        const e = padded[i + w + 1] as number;
        const top = a + fx * (b - a);
        v = top + fy * (d + fx * (e - d) - top);
      }
      img[y * side + x] = v;
    }
  }
}

/**
 * Blends a 3×3 max (amount > 0) or min (amount < 0) filter into `img`, in place; separable, rows
 * then columns, using only the pixels that exist at the border (black outside would eat ink there).
 * Thinning then restores the brightest pixel's value: an eroded stroke should look narrower, not faded.
 */
function strokeFilter(img: Float32Array, amount: number, tmp: Float32Array, filtered: Float32Array): void {
  const side = 28;
  const n = side * side;
  const grow = amount > 0;
  for (let y = 0; y < side; y++) {
    const row = y * side;
    for (let x = 0; x < side; x++) {
      const l = img[row + (x > 0 ? x - 1 : x)] as number;
      const m = img[row + x] as number;
      const r = img[row + (x < side - 1 ? x + 1 : x)] as number;
      tmp[row + x] = extreme3(grow, l, m, r);
    }
  }
  for (let p = 0; p < n; p++) {
    const u = tmp[p >= side ? p - side : p] as number;
    const m = tmp[p] as number;
    const d = tmp[p < n - side ? p + side : p] as number;
    filtered[p] = extreme3(grow, u, m, d);
  }
  const w = Math.abs(amount);
  let before = 0;
  let after = 0;
  for (let p = 0; p < n; p++) {
    const v = img[p] as number;
    const blended = v + w * ((filtered[p] as number) - v);
    if (v > before) before = v;
    if (blended > after) after = blended;
    img[p] = blended;
  }
  if (!grow && after > 0 && after < before) {
    const k = before / after;
    for (let p = 0; p < n; p++) img[p] = Math.min(255, (img[p] as number) * k);
  }
}

/** The largest (grow) or smallest of three values; written out because it is the filter's inner loop. */
function extreme3(grow: boolean, a: number, b: number, c: number): number {
  if (grow) return a > b ? (a > c ? a : c) : b > c ? b : c;
  return a < b ? (a < c ? a : c) : b < c ? b : c;
}

/**
 * Writes one batch: sample `order[start + i]` of `images` (N×784 bytes), transformed, to
 * `out[i·784…]` for i in 0..count-1 — bytes into a Uint8Array, [0, 1] floats into a Float32Array
 * (the layout `imagesToTensor` builds, ready for `tf.tensor4d(out, [count, 28, 28, 1])`).
 */
export function augmentInto(
  out: Float32Array | Uint8Array,
  images: Uint8Array,
  order: ArrayLike<number>,
  start: number,
  count: number,
  cfg: Augment,
  seed: number,
  epoch: number,
): void {
  if (out.length < count * PIXELS) throw new RangeError(`augmentInto: out holds ${out.length} values, the batch needs ${count * PIXELS}`);
  for (let i = 0; i < count; i++) {
    const index = order[start + i] as number;
    transformImage(images, index * PIXELS, sampleTransform(cfg, seed, epoch, index), out, i * PIXELS);
  }
}

/**
 * The "transformed MNIST" test set: the first `count` images, each with a strong seeded transform
 * (TRANSFORMED_TEST_AUGMENT), labels unchanged. The same seed gives the same bytes.
 */
export function transformedTestSet(images: Uint8Array, labels: Uint8Array, count: number, seed: number): LabelledImages {
  const n = Math.min(count, labels.length, Math.floor(images.length / PIXELS));
  const out = new Uint8Array(n * PIXELS);
  for (let i = 0; i < n; i++) transformImage(images, i * PIXELS, sampleTransform(TRANSFORMED_TEST_AUGMENT, seed, 0, i), out, i * PIXELS);
  return { images: out, labels: labels.slice(0, n), count: n };
}
