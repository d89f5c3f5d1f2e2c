/**
 * The one shape of a digit image in mlpipe: 28×28 greyscale bytes, row-major, white ink on black
 * (MNIST's convention). Datasets, training, serving and drift all pass images around like this.
 */
export const IMAGE_SIDE = 28;
export const PIXELS = IMAGE_SIDE * IMAGE_SIDE;

/** `count` images of PIXELS bytes each, back to back. */
export interface DigitImages {
  images: Uint8Array;
  count: number;
}

/** Images with their labels (one class 0..9 per image): a batch, a split or a shard of one. */
export interface LabelledImages extends DigitImages {
  labels: Uint8Array;
}
