import type * as tf from '@tensorflow/tfjs';

/** The backend's reference counting of heap data, as its own Reshape uses it. */
export interface RefCountingBackend {
  incRef(dataId: object): void;
}

/**
 * A copy that shares x's bytes instead of copying them (Identity, and a Cast to the dtype x already
 * has): the WASM backend copies, the CPU backend shares. The engine clones every tensor a gradient
 * keeps for the backward pass, so a training step made ~40 such copies of whole activations (on
 * cnn-deep 3-4% of the step). Sharing is safe because nothing writes into an existing tensor's
 * bytes: every kernel, and our optimizers' updates, write a new output.
 *
 * Returns undefined for what it does not cover (strings; a Cast that converts) so the caller falls
 * back to the backend's kernel.
 */
export function sharedCopy(backend: RefCountingBackend, x: tf.TensorInfo, dtype: tf.DataType = x.dtype): tf.TensorInfo | undefined {
  if (x.dtype === 'string' || dtype !== x.dtype) return undefined;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
