import * as tf from '@tensorflow/tfjs';
import { WasmCalls, type WasmBackend } from './wasmCalls';

type Pad = 'valid' | 'same' | number;
interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad | unknown;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
export type FilterGradAttrs = ConvGradAttrs & { filterShape: [number, number, number, number] };
export type InputGradAttrs = ConvGradAttrs & { inputShape: [number, number, number, number] };

type Shape4 = [number, number, number, number];
const pair = (v: [number, number] | number): [number, number] => (typeof v === 'number' ? [v, v] : v);
const isSimplePad = (p: unknown): p is Pad => p === 'same' || p === 'valid' || typeof p === 'number';

/**
 * The filter gradient of a 2-D convolution, as one forward convolution that XNNPACK runs:
 *   dW[a,b,c,o] = Σ_{n,i,j} x[n, i·s+a−pt, j·s+b−pl, c] · dy[n,i,j,o]
 * reads as a convolution of x with the batch and channel axes swapped ([C,H,W,N]) by dy as the
 * filter ([oh,ow,N,O]); the forward stride becomes the filter's dilation, the forward padding
 * stays, and the output [C,fh,fw,O] is turned back to [fh,fw,C,O]. Where the forward pass left
 * rows or columns of x unread, the output is one taller or wider and is cropped.
 *
 * Returns undefined for what it does not cover (NCHW, explicit padding lists), so the caller can
 * fall back to the slower kernel.
 */
export function conv2dFilterGradient(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, a: FilterGradAttrs): tf.TensorInfo | undefined {
  if (a.dataFormat !== 'NHWC' || !isSimplePad(a.pad)) return undefined;
  const [sh, sw] = pair(a.strides);
  const [fh, fw, ci, co] = a.filterShape;
  const [, H, W] = x.shape as Shape4;
  const [, oh, ow] = dy.shape as Shape4;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, a.filterShape, [sh, sw], 1, a.pad, a.dimRoundingMode);
  const { top, left } = info.padInfo;
  // Pad below/right only as far as the last filter tap needs; never negative (then we crop instead).
  const bottom = Math.max(0, fh + (oh - 1) * sh - H - top);
  const right = Math.max(0, fw + (ow - 1) * sw - W - left);
  const calls = new WasmCalls(backend);
  try {
    const xT = calls.transpose(x, [3, 1, 2, 0]);
    const dyT = calls.transpose(dy, [1, 2, 0, 3]);
    const conv = calls.run('Conv2D', { x: xT, filter: dyT }, {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      dataFormat: 'NHWC',
    });
    const cropped = calls.cropTo(conv, [ci, fh, fw, co]);
    return calls.run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] }, true);
  } finally {
    calls.release();
  }
}

/**
 * The input gradient of a stride-1 2-D convolution, as one forward convolution that XNNPACK runs:
 * dy convolved with the filter flipped in space and with its in/out axes swapped, padded so that
 * every input position sees every filter tap that touched it ("full" padding less the forward pad).
 *
 * Returns undefined for strides > 1 and NCHW; the caller falls back to the backend's kernel.
 */
export function conv2dInputGradient(backend: WasmBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, a: InputGradAttrs): tf.TensorInfo | undefined {
  if (a.dataFormat !== 'NHWC' || !isSimplePad(a.pad)) return undefined;
  const [sh, sw] = pair(a.strides);
  if (sh !== 1 || sw !== 1) return undefined;
  const [fh, fw] = filter.shape as Shape4;
  const [, H, W] = a.inputShape;
  const [, oh, ow] = dy.shape as Shape4;
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4, 1, 1, a.pad, a.dimRoundingMode);
  // "Full" padding less the forward padding; a negative amount (forward padding wider than the
  // filter) means rows or columns of dy that no input position reads, so they are cut instead.
  const top = fh - 1 - info.padInfo.top;
  const left = fw - 1 - info.padInfo.left;
  const bottom = H - 1 + fh - 1 - (oh - 1) - top;
  const right = W - 1 + fw - 1 - (ow - 1) - left;
  const calls = new WasmCalls(backend);
  try {
    const cut = [0, Math.max(0, -top), Math.max(0, -left), 0];
    const size = [dy.shape[0] as number, oh - cut[1]! - Math.max(0, -bottom), ow - cut[2]! - Math.max(0, -right), dy.shape[3] as number];
    const dyUsed = cut.some((c) => c > 0) || size[1] !== oh || size[2] !== ow ? calls.run('Slice', { x: dy }, { begin: cut, size }) : dy;
    const flipped = calls.run('Reverse', { x: filter }, { dims: [0, 1] });
    const swapped = calls.transpose(flipped, [0, 1, 3, 2]);
    const pad = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
    return calls.run('Conv2D', { x: dyUsed, filter: swapped }, { strides: [1, 1], dilations: [1, 1], pad, dataFormat: 'NHWC' }, true);
  } finally {
    calls.release();
  }
}
