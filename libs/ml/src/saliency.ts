import * as tf from '@tensorflow/tfjs';
import { imagesToTensor, PIXELS } from './preprocess';

/**
 * Vanilla gradient saliency: |∂ p(class) / ∂ input| for one 28×28 image, scaled to [0, 1].
 * Shows which pixels would most change the model's confidence in its answer.
 */
export function saliencyMap(model: tf.LayersModel, image: Uint8Array, cls: number): Float32Array {
  return tf.tidy(() => {
    const x = imagesToTensor(image, 1);
    const grad = tf.grad((input: tf.Tensor) => (model.predict(input) as tf.Tensor2D).slice([0, cls], [1, 1]).sum())(x);
    const magnitude = grad.abs().reshape([PIXELS]);
    const max = magnitude.max().dataSync()[0] as number;
    return (max > 0 ? magnitude.div(max) : magnitude).dataSync() as Float32Array;
  });
}
