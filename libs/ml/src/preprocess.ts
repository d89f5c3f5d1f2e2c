import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIDE, NUM_CLASSES, PIXELS } from '@mlpipe/contracts';

// The image shape is defined once, in @mlpipe/contracts; training and serving code gets it from here.
export { IMAGE_SIDE, PIXELS, type DigitImages, type LabelledImages } from '@mlpipe/contracts';

/**
 * The one conversion from image bytes to model input, used by training and serving alike:
 * [count, 28, 28, 1] float32 in [0, 1]. `order` picks (and orders) samples by index.
 */
export function imagesToTensor(images: Uint8Array, count: number, order?: ArrayLike<number>, start = 0): tf.Tensor4D {
  const out = new Float32Array(count * PIXELS);
  for (let i = 0; i < count; i++) {
    const src = (order ? (order[start + i] as number) : start + i) * PIXELS;
    for (let p = 0; p < PIXELS; p++) out[i * PIXELS + p] = (images[src + p] as number) / 255;
  }
  return tf.tensor4d(out, [count, IMAGE_SIDE, IMAGE_SIDE, 1]);
}

export function labelsToOneHot(labels: Uint8Array, count: number, order?: ArrayLike<number>, start = 0): tf.Tensor2D {
  const picked = new Int32Array(count);
  for (let i = 0; i < count; i++) picked[i] = labels[order ? (order[start + i] as number) : start + i] as number;
  return tf.tidy(() => tf.oneHot(tf.tensor1d(picked, 'int32'), NUM_CLASSES) as tf.Tensor2D);
}
