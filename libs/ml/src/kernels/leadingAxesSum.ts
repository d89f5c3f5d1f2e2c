import * as tf from '@tensorflow/tfjs';
import { WasmCalls, type WasmBackend } from './wasmCalls';

export interface SumAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/** Ones vectors by length: a layer's batch of rows has the same length every step. */
const onesByLength = new Map<number, tf.TensorInfo>();
const ONES_KEPT = 16;

/**
 * A sum over the leading axes of a float tensor (all rows of an [N,H,W,C] activation into C
 * values), as one matrix product ones[1,rows] · x[rows,C] that XNNPACK runs. Every bias gradient
 * of a training step is such a sum, and the backend first transposes the reduced axes to the end
 * and then adds with a scalar loop: 4-6× slower on our layers' shapes.
 *
 * Returns undefined for other reductions (inner axes, integers, few rows) so the caller falls
 * back to the backend's kernel.
 */
export function leadingAxesSum(backend: WasmBackend, x: tf.TensorInfo, a: SumAttrs): tf.TensorInfo | undefined {
  if (x.dtype !== 'float32') return undefined;
  const rank = x.shape.length;
  const axes = [...new Set((Array.isArray(a.axis) ? a.axis : [a.axis]).map((d) => (d < 0 ? d + rank : d)))].sort((p, q) => p - q);
  const k = axes.length;
  if (k === 0 || k >= rank || axes.some((d, i) => d !== i)) return undefined;
  const rows = x.shape.slice(0, k).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(k).reduce((p, d) => p * d, 1);
  if (rows < 64) return undefined;
  const calls = new WasmCalls(backend);
  const product = calls.run(
    'BatchMatMul',
    { a: onesOf(backend, rows), b: { ...x, shape: [1, rows, inner] } },
    { transposeA: false, transposeB: false },
    true,
  );
  const shape = a.keepDims ? [...axes.map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
  return { dataId: product.dataId, dtype: 'float32', shape };
}

function onesOf(backend: WasmBackend, length: number): tf.TensorInfo {
  let ones = onesByLength.get(length);
  if (!ones) {
    if (onesByLength.size >= ONES_KEPT) {
      const [oldest, info] = onesByLength.entries().next().value as [number, tf.TensorInfo];
      backend.disposeData(info.dataId);
      onesByLength.delete(oldest);
    }
    const shape = [1, 1, length];
    ones = { dataId: backend.write(new Float32Array(length).fill(1), shape, 'float32'), shape, dtype: 'float32' };
    onesByLength.set(length, ones);
  }
  return ones;
}
