import type * as tf from '@tensorflow/tfjs';
import { WasmCalls, type WasmBackend } from './wasmCalls';

export interface SumAttrs {
  axis: number | number[] | null;
  keepDims: boolean;
}

/**
 * A sum over the leading axes of a float tensor (all rows of an [N,H,W,C] activation into C
 * values), as XNNPACK's average pooling over one window that covers every row, scaled back up by
 * the row count. Every bias gradient of a training step is such a sum; the backend first
 * transposes the reduced axes to the end and then adds with a scalar loop, 4-6× slower on our
 * layers' shapes. Pooling needs no weights, so unlike a ones·x matrix product (whose x XNNPACK
 * would re-pack as weights every step) it costs the same for a new tensor each call.
 *
 * Returns undefined for other reductions (inner axes, all axes, integers, few rows) so the caller
 * falls back to the backend's kernel.
 */
export function leadingAxesSum(backend: WasmBackend, x: tf.TensorInfo, a: SumAttrs): tf.TensorInfo | undefined {
  if (x.dtype !== 'float32' || a.axis === null) return undefined;
  const rank = x.shape.length;
  const axes = [...new Set((Array.isArray(a.axis) ? a.axis : [a.axis]).map((d) => (d < 0 ? d + rank : d)))].sort((p, q) => p - q);
  const k = axes.length;
  if (k === 0 || k >= rank || axes.some((d, i) => d !== i)) return undefined;
  const rows = x.shape.slice(0, k).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(k).reduce((p, d) => p * d, 1);
  if (rows < 64) return undefined;
  const mean = new WasmCalls(backend).run(
    'AvgPool',
    { x: { ...x, shape: [1, rows, 1, inner] } },
    { filterSize: [rows, 1], strides: [1, 1], pad: 'valid' },
    true,
  );
  const values = backend.typedArrayFromHeap(mean);
  for (let c = 0; c < inner; c++) values[c] = (values[c] as number) * rows;
  const shape = a.keepDims ? [...axes.map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
  return { dataId: mean.dataId, dtype: 'float32', shape };
}
