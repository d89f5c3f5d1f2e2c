import { PIXELS, type LabelledImages } from '@mlpipe/contracts';

// The image shape is defined once, in @mlpipe/contracts; the dataset lib hands it on to its users.
export { IMAGE_SIDE, NUM_CLASSES, PIXELS, type DigitImages, type LabelledImages } from '@mlpipe/contracts';

export function concatImages(parts: readonly LabelledImages[]): LabelledImages {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images.subarray(0, p.count * PIXELS), at * PIXELS);
    labels.set(p.labels.subarray(0, p.count), at);
    at += p.count;
  }
  return { images, labels, count };
}
