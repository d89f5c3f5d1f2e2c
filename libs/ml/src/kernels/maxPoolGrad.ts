import * as tf from '@tensorflow/tfjs';
import type { WasmBackend } from './wasmCalls';

export interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * The gradient of max pooling: each output's dy goes to the first position in its window that
 * holds the window's maximum (the CPU backend's rule, so ties break the same way). One pass over
 * the outputs with typed arrays on the WASM heap; the backend's own kernel loops over every input
 * position and every window that may cover it, which is several times slower on our shapes.
 */
export function maxPoolGradient(backend: WasmBackend, dy: tf.TensorInfo, input: tf.TensorInfo, a: MaxPoolGradAttrs): tf.TensorInfo {
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const dx = backend.makeOutput(input.shape, 'float32');
  const out = backend.typedArrayFromHeap(dx);
  out.fill(0);
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  const rowStride = W * C;
  for (let n = 0; n < batchSize; n++) {
    const xBase = n * H * rowStride;
    for (let i = 0; i < OH; i++) {
      const r0 = Math.max(0, i * sh - top);
      const r1 = Math.min(H, i * sh - top + fh);
      for (let j = 0; j < OW; j++) {
        const c0 = Math.max(0, j * sw - left);
        const c1 = Math.min(W, j * sw - left + fw);
        const gBase = ((n * OH + i) * OW + j) * C;
        for (let c = 0; c < C; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let r = r0; r < r1; r++) {
            for (let q = c0; q < c1; q++) {
              const k = xBase + r * rowStride + q * C + c;
              const v = x[k] as number;
              if (v > best) {
                best = v;
                at = k;
              }
            }
          }
          if (at >= 0) out[at] = (out[at] as number) + (g[gBase + c] as number);
        }
      }
    }
  }
  return dx;
}
