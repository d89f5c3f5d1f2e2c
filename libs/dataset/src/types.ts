/** Images as bytes: N×28×28 uint8, white ink on black (MNIST's convention), with their labels. */
export interface LabelledImages {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export const ROWS = 28;
export const COLS = 28;
export const PIXELS = ROWS * COLS;
export const CLASSES = 10;

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
