import { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import { NUM_CLASSES as CLASSES, PIXELS, type DigitImages } from '@mlpipe/contracts';
import { mulberry32 } from '@mlpipe/common';
import { FEATURE_NAMES, checkBatch, extractFeatures, type FeatureName } from './features';

/**
 * What drift is measured against: the champion's training images and its predictions on them,
 * reduced to sorted feature samples (at most `maxSamples` images, a seeded random sample)
 * and the share of each predicted class. Plain JSON, so it can be stored next to a model version
 * and parsed back with `parseDriftReference`.
 */

export const DEFAULT_MAX_REFERENCE_SAMPLES = 5000;

const SortedSample = z
  .array(z.number().finite())
  .min(1)
  .refine((xs) => xs.every((x, i) => i === 0 || (xs[i - 1] as number) <= x), 'must be sorted ascending');

export const DriftReferenceSchema = z
  .object({
    version: z.literal(1),
    /** Images the reference was built from (before sampling). */
    count: z.number().int().positive(),
    /** Sorted values of each feature over the sampled images. */
    features: z.object(Object.fromEntries(FEATURE_NAMES.map((name) => [name, SortedSample])) as Record<FeatureName, typeof SortedSample>).strict(),
    /** Share of each predicted class 0..9 over all reference images. */
    classShares: z.array(z.number().min(0).max(1)).length(CLASSES),
  })
  .strict();
export type DriftReference = z.infer<typeof DriftReferenceSchema>;

/** Parses a stored reference; anything else is a ValidationError saying what is wrong. */
export function parseDriftReference(json: unknown): DriftReference {
  const result = DriftReferenceSchema.safeParse(json);
  if (!result.success) throw new ValidationError(`not a drift reference: ${z.prettifyError(result.error).replace(/\n/g, '; ')}`);
  return result.data;
}

export type Predictions = Int32Array | Uint8Array | readonly number[];

/** Counts of each class 0..9; anything else is a ValidationError. */
export function classCounts(predictions: Predictions): number[] {
  const counts = new Array<number>(CLASSES).fill(0);
  for (let i = 0; i < predictions.length; i++) {
    const c = predictions[i] as number;
    if (!Number.isInteger(c) || c < 0 || c >= CLASSES) throw new ValidationError(`prediction ${i} is ${c}; classes are integers 0..${CLASSES - 1}`);
    counts[c]! += 1;
  }
  return counts;
}

export function checkPredictions(batch: DigitImages, predictions: Predictions): void {
  if (predictions.length !== batch.count) throw new ValidationError(`${batch.count} images but ${predictions.length} predictions`);
}

export interface BuildReferenceOptions {
  maxSamples?: number;
}

/** The reference of a model version from its training images and its predicted classes on them (labels do, for a good model). */
export function buildReference(images: DigitImages, predictions: Predictions, opts: BuildReferenceOptions = {}): DriftReference {
  checkBatch(images);
  checkPredictions(images, predictions);
  if (images.count === 0) throw new ValidationError('a drift reference needs at least one image');
  const maxSamples = opts.maxSamples ?? DEFAULT_MAX_REFERENCE_SAMPLES;
  const columns = extractFeatures(randomSample(images, maxSamples));
  const features = Object.fromEntries(FEATURE_NAMES.map((name) => [name, Array.from(columns[name].sort())])) as Record<FeatureName, number[]>;
  const counts = classCounts(predictions);
  return { version: 1, count: images.count, features, classShares: counts.map((c) => c / images.count) };
}

/**
 * At most `max` images drawn at random with a fixed seed (so a reference can be rebuilt). Not every
 * k-th image: datasets are often ordered by source, and on MNIST's training file every 12th image
 * made a reference that random training batches drifted from (slant PSI 0.65).
 */
function randomSample(batch: DigitImages, max: number): DigitImages {
  if (batch.count <= max) return batch;
  const random = mulberry32(SAMPLE_SEED);
  const order = Int32Array.from({ length: batch.count }, (_, i) => i);
  for (let k = 0; k < max; k++) {
    const j = k + Math.floor(random() * (batch.count - k));
    const t = order[k] as number;
    order[k] = order[j] as number;
    order[j] = t;
  }
  const chosen = order.subarray(0, max).sort();
  const images = new Uint8Array(max * PIXELS);
  chosen.forEach((i, k) => images.set(batch.images.subarray(i * PIXELS, (i + 1) * PIXELS), k * PIXELS));
  return { images, count: max };
}

const SAMPLE_SEED = 0x5eed;
