import { ValidationError } from '@mlpipe/common';
import { IMAGE_SIDE as SIDE, PIXELS, type DigitImages } from '@mlpipe/contracts';

/**
 * Cheap, interpretable features of 28×28 greyscale digits (white ink on black), one number per
 * image. Each says something a person can check by looking at the images: brighter, more ink,
 * moved, wider, taller, leaning, thicker strokes. Positions and lengths are in pixels.
 */

/** A pixel is ink when brighter than this (half of 255). */
const INK_ABOVE = 127;
const CENTRE = (SIDE - 1) / 2;

export const FEATURE_NAMES = ['mean_intensity', 'ink_share', 'centroid_x', 'centroid_y', 'spread_x', 'spread_y', 'slant', 'stroke_width'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** What the features describe, for docs, logs and dashboards. */
export const FEATURE_DESCRIPTIONS: Record<FeatureName, string> = {
  mean_intensity: 'mean pixel value / 255',
  ink_share: 'share of pixels brighter than 127',
  centroid_x: 'mean column of the ink (13.5 is the centre)',
  centroid_y: 'mean row of the ink (13.5 is the centre)',
  spread_x: 'standard deviation of the ink columns',
  spread_y: 'standard deviation of the ink rows',
  slant: 'correlation of ink column and row (negative: leaning right, as handwriting does)',
  stroke_width: 'ink pixels per edge pixel ×2: about the stroke width for thin strokes',
};

export type FeatureColumns = Record<FeatureName, Float64Array>;

export function checkBatch(batch: DigitImages): void {
  if (!Number.isInteger(batch.count) || batch.count < 0) throw new ValidationError(`image count must be a non-negative integer, got ${batch.count}`);
  if (batch.images.length !== batch.count * PIXELS) {
    throw new ValidationError(`${batch.count} images of 28×28 need ${batch.count * PIXELS} bytes, got ${batch.images.length}`);
  }
}

/** Every feature of every image, one column per feature. */
export function extractFeatures(batch: DigitImages): FeatureColumns {
  checkBatch(batch);
  const columns = Object.fromEntries(FEATURE_NAMES.map((name) => [name, new Float64Array(batch.count)])) as FeatureColumns;
  for (let i = 0; i < batch.count; i++) {
    const f = imageFeatures(batch.images.subarray(i * PIXELS, (i + 1) * PIXELS));
    for (const name of FEATURE_NAMES) columns[name][i] = f[name];
  }
  return columns;
}

/** One image's features. An image without ink sits at the centre with zero spread, slant and width. */
export function imageFeatures(image: Uint8Array): Record<FeatureName, number> {
  let sum = 0;
  let ink = 0;
  let edge = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < PIXELS; i++) {
    const v = image[i] as number;
    sum += v;
    if (v <= INK_ABOVE) continue;
    const x = i % SIDE;
    const y = (i - x) / SIDE;
    ink++;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
    if (touchesBackground(image, x, y)) edge++;
  }
  const meanIntensity = sum / PIXELS / 255;
  if (ink === 0) {
    return { mean_intensity: meanIntensity, ink_share: 0, centroid_x: CENTRE, centroid_y: CENTRE, spread_x: 0, spread_y: 0, slant: 0, stroke_width: 0 };
  }
  const cx = sx / ink;
  const cy = sy / ink;
  const vx = Math.max(0, sxx / ink - cx * cx);
  const vy = Math.max(0, syy / ink - cy * cy);
  const cov = sxy / ink - cx * cy;
  return {
    mean_intensity: meanIntensity,
    ink_share: ink / PIXELS,
    centroid_x: cx,
    centroid_y: cy,
    spread_x: Math.sqrt(vx),
    spread_y: Math.sqrt(vy),
    slant: vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : 0,
    // A stroke w pixels wide and L long has about w·L ink pixels and 2·L edge pixels.
    stroke_width: (2 * ink) / Math.max(1, edge),
  };
}

/** Ink pixel with a 4-neighbour that is background; the border of the image counts as background. */
function touchesBackground(image: Uint8Array, x: number, y: number): boolean {
  if (x === 0 || y === 0 || x === SIDE - 1 || y === SIDE - 1) return true;
  const i = y * SIDE + x;
  return (image[i - 1] as number) <= INK_ABOVE || (image[i + 1] as number) <= INK_ABOVE || (image[i - SIDE] as number) <= INK_ABOVE || (image[i + SIDE] as number) <= INK_ABOVE;
}
