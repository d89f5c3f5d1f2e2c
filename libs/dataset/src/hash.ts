import { createHash } from 'node:crypto';
import { PIXELS, type LabelledImages } from './types';

export function sha256Hex(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/**
 * The identity of a normalised batch: SHA-256 over its image bytes (N×784, row-major) followed
 * by its label bytes (N). Same samples in the same order → same hash, wherever they came from.
 */
export function contentHash(set: LabelledImages): string {
  return sha256Hex(set.images.subarray(0, set.count * PIXELS), set.labels.subarray(0, set.count));
}

/** Per-sample identity (the 784 pixel bytes only), for duplicate detection across batches. */
export function sampleHashes(set: LabelledImages): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < set.count; i++) {
    out.push(createHash('sha256').update(set.images.subarray(i * PIXELS, (i + 1) * PIXELS)).digest().subarray(0, 16));
  }
  return out;
}
