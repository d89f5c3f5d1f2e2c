import { NUM_CLASSES, PIXELS, type LabelledImages } from './types';

export interface ValidationPolicy {
  /** Reject when the rarest class has fewer than this share of the mean class count. */
  minClassShare: number;
  /** Reject when more than this share of samples duplicate each other or known samples. */
  maxDuplicateShare: number;
  /** Batches smaller than this only get a warning about class balance. */
  balanceMinSamples: number;
}

export const DEFAULT_POLICY: ValidationPolicy = { minClassShare: 0.2, maxDuplicateShare: 0.05, balanceMinSamples: 200 };

export interface BatchReport {
  ok: boolean;
  reasons: string[];
  warnings: string[];
  classCounts: number[];
  duplicatesWithinBatch: number;
  duplicatesOfKnown: number;
}

/**
 * The validation rules for a decoded batch: shape, label set, class balance and duplicates
 * (within the batch and against samples already known). Every reason is a sentence with numbers.
 * `hashes` are per-sample hashes (same order as the samples); `isKnown` asks whether one was seen before.
 */
export function validateBatch(
  set: LabelledImages,
  hashes: readonly Buffer[],
  isKnown: (hash: Buffer) => boolean,
  policy: ValidationPolicy = DEFAULT_POLICY,
): BatchReport {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const classCounts = new Array<number>(NUM_CLASSES).fill(0);
  if (set.count === 0) reasons.push('the batch holds no samples');
  if (set.images.length !== set.count * PIXELS) {
    reasons.push(`the batch holds ${set.images.length} pixel bytes for ${set.count} samples; expected ${set.count * PIXELS} (28×28 each)`);
  }
  if (set.labels.length !== set.count) reasons.push(`the batch holds ${set.labels.length} labels for ${set.count} images`);

  const badLabels = new Map<number, number>();
  for (let i = 0; i < Math.min(set.count, set.labels.length); i++) {
    const l = set.labels[i] as number;
    if (l < NUM_CLASSES) classCounts[l] = (classCounts[l] as number) + 1;
    else badLabels.set(l, (badLabels.get(l) ?? 0) + 1);
  }
  if (badLabels.size) {
    const list = [...badLabels].map(([l, n]) => `${l} (${n}×)`).join(', ');
    reasons.push(`labels must be 0-9; found ${list}`);
  }

  const mean = set.count / NUM_CLASSES;
  const rarest = Math.min(...classCounts);
  const rareClass = classCounts.indexOf(rarest);
  if (set.count > 0 && rarest < policy.minClassShare * mean) {
    const msg = `class ${rareClass} has ${rarest} samples, under ${(policy.minClassShare * 100).toFixed(0)}% of the mean ${mean.toFixed(1)} per class`;
    if (set.count >= policy.balanceMinSamples) reasons.push(`unbalanced: ${msg}`);
    else warnings.push(`small batch, balance not enforced: ${msg}`);
  }

  const seen = new Set<string>();
  let within = 0;
  let known = 0;
  for (const h of hashes) {
    const key = h.toString('hex');
    if (seen.has(key)) within++;
    else if (isKnown(h)) known++;
    seen.add(key);
  }
  const dupShare = set.count ? (within + known) / set.count : 0;
  if (dupShare > policy.maxDuplicateShare) {
    reasons.push(
      `${within + known} of ${set.count} samples are duplicates (${within} within the batch, ${known} already known): ` +
        `${(dupShare * 100).toFixed(1)}% exceeds ${(policy.maxDuplicateShare * 100).toFixed(1)}%`,
    );
  } else if (within + known > 0) {
    warnings.push(`${within + known} duplicate samples (${within} within the batch, ${known} already known)`);
  }
  return { ok: reasons.length === 0, reasons, warnings, classCounts, duplicatesWithinBatch: within, duplicatesOfKnown: known };
}
