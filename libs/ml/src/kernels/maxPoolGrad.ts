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
 * holds the window's maximum (the CPU backend's rule, so ties break the same way), written with
 * typed arrays on the WASM heap. The backend's own kernel loops over every input position and
 * every window that may cover it, which is several times slower on our shapes.
 */
export function maxPoolGradient(backend: WasmBackend, dy: tf.TensorInfo, input: tf.TensorInfo, a: MaxPoolGradAttrs): tf.TensorInfo {
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const dx = backend.makeOutput(input.shape, 'float32');
  const out = backend.typedArrayFromHeap(dx);
  out.fill(0);
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  if (tiles2x2(info)) pool2x2Gradient(info, x, g, out);
  else anyPoolGradient(info, x, g, out);
  return dx;
}

/** 2×2 windows at stride 2 that all lie inside the input (no padding reaches a window). */
function tiles2x2(i: tf.backend_util.Conv2DInfo): boolean {
  const twos = i.strideHeight === 2 && i.strideWidth === 2 && i.effectiveFilterHeight === 2 && i.effectiveFilterWidth === 2;
  return twos && i.padInfo.top === 0 && i.padInfo.left === 0 && 2 * i.outHeight <= i.inHeight && 2 * i.outWidth <= i.inWidth;
}

/**
 * Every pooling layer of our nets: 2×2 windows at stride 2 without padding. The windows tile the
 * input, so each output's four candidates are fixed offsets and no window can be cut by a border.
 * Channels are innermost, so the inner loop walks memory in order. Ties go to the first in the
 * order (0,0), (0,1), (1,0), (1,1), as in the general loop.
 */
function pool2x2Gradient(info: tf.backend_util.Conv2DInfo, x: Float32Array, g: Float32Array, out: Float32Array): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const row = W * C;
  let gi = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const p00 = (n * H + 2 * i) * row + 2 * j * C;
        for (let c = 0; c < C; c++, gi++) {
          const k00 = p00 + c;
          const k01 = k00 + C;
          const k10 = k00 + row;
          const k11 = k10 + C;
          let at = k00;
          let best = x[k00] as number;
          if ((x[k01] as number) > best) {
            best = x[k01] as number;
            at = k01;
          }
          if ((x[k10] as number) > best) {
            best = x[k10] as number;
            at = k10;
          }
          if ((x[k11] as number) > best) at = k11;
          out[at] = g[gi] as number;
        }
      }
    }
  }
}

/** Any window, stride and padding: windows may overlap, so contributions add up. */
function anyPoolGradient(info: tf.backend_util.Conv2DInfo, x: Float32Array, g: Float32Array, out: Float32Array): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
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
}
