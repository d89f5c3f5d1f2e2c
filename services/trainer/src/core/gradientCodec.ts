import { Float16Array } from '@petamoriken/float16';

/** How gradients travel: plain float32, half precision, or the top-k largest entries with error feedback. */
export type Compression = 'none' | 'fp16' | 'topk';

export type Encoding = 'f32' | 'f16' | 'topk';

export interface EncodedGradient {
  encoding: Encoding;
  bytes: Uint8Array;
}

const asBytes = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** A copy aligned for typed-array views (received bytes may sit at any offset). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export function encodeDense(values: Float32Array, encoding: 'f32' | 'f16'): EncodedGradient {
  return { encoding, bytes: asBytes(encoding === 'f32' ? values : Float16Array.from(values)) };
}

/** Back to float32 of the model's length; refuses a payload of the wrong size. */
export function decodeGradient(e: EncodedGradient, length: number): Float32Array {
  if (e.encoding === 'f32' || e.encoding === 'f16') {
    const width = e.encoding === 'f32' ? 4 : 2;
    if (e.bytes.byteLength !== length * width) throw new Error(`${e.encoding} gradient of ${e.bytes.byteLength} bytes, expected ${length * width}`);
    return e.encoding === 'f32' ? new Float32Array(aligned(e.bytes)) : Float32Array.from(new Float16Array(aligned(e.bytes)));
  }
  // topk: u32 k, then k u32 indices, then k f32 values.
  const view = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  const k = view.getUint32(0, true);
  if (e.bytes.byteLength !== 4 + 8 * k) throw new Error(`topk gradient of ${e.bytes.byteLength} bytes does not hold ${k} entries`);
  const indices = new Uint32Array(aligned(e.bytes.subarray(4, 4 + 4 * k)));
  const values = new Float32Array(aligned(e.bytes.subarray(4 + 4 * k)));
  const out = new Float32Array(length);
  for (let i = 0; i < k; i++) {
    const at = indices[i] as number;
    if (at >= length) throw new Error(`topk index ${at} beyond the gradient's ${length} values`);
    out[at] = values[i] as number;
  }
  return out;
}

/**
 * Top-k sparsification with error feedback: what is not sent this step is kept and added to the
 * next step's gradient, so every entry's contribution arrives eventually (nothing is dropped for
 * good, which is what keeps convergence close to uncompressed training).
 */
export class TopKCompressor {
  private residual: Float32Array | undefined;

  constructor(private readonly ratio: number) {
    if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`top-k ratio must be in (0, 1], got ${ratio}`);
  }

  encode(gradient: Float32Array): EncodedGradient {
    const n = gradient.length;
    const residual = (this.residual ??= new Float32Array(n));
    const corrected = new Float32Array(n);
    for (let i = 0; i < n; i++) corrected[i] = (gradient[i] as number) + (residual[i] as number);
    const k = Math.max(1, Math.min(n, Math.round(n * this.ratio)));
    const threshold = kthLargestMagnitude(corrected, k);
    const bytes = new Uint8Array(4 + 8 * k);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, k, true);
    let taken = 0;
    for (let i = 0; i < n && taken < k; i++) {
      const v = corrected[i] as number;
      if (Math.abs(v) >= threshold) {
        view.setUint32(4 + 4 * taken, i, true);
        view.setFloat32(4 + 4 * k + 4 * taken, v, true);
        corrected[i] = 0;
        taken++;
      }
    }
    this.residual = corrected;
    return { encoding: 'topk', bytes };
  }
}

function kthLargestMagnitude(values: Float32Array, k: number): number {
  const mags = Float32Array.from(values, Math.abs).sort();
  return mags[mags.length - k] as number;
}

/**
 * The reduction: sum of the members' gradient sums divided by the samples behind them, in the
 * given (member) order and in float64, so the result is the exact mean rounded once to float32
 * and the same on every run with the same members.
 */
export function meanOfSums(sums: readonly Float32Array[], totalCount: number): Float32Array {
  const first = sums[0];
  if (!first) throw new Error('nothing to reduce');
  const acc = new Float64Array(first.length);
  for (const s of sums) {
    if (s.length !== acc.length) throw new Error(`gradient lengths differ: ${s.length} vs ${acc.length}`);
    for (let i = 0; i < s.length; i++) acc[i] = (acc[i] as number) + (s[i] as number);
  }
  const out = new Float32Array(acc.length);
  if (totalCount > 0) for (let i = 0; i < acc.length; i++) out[i] = (acc[i] as number) / totalCount;
  return out;
}
