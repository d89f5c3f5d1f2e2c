import * as tf from '@tensorflow/tfjs';

/** The parts of the WASM backend our kernels use: its heap-backed tensors and its registry of kernels. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  readSync(dataId: object): unknown;
  write(values: Float32Array, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object): boolean;
}

/**
 * Calls backend kernels inside one of our kernels. Intermediate results are not engine tensors,
 * so the engine would never free them: `scratch` collects them and `release` frees them at the end.
 */
export class WasmCalls {
  private readonly scratch: tf.TensorInfo[] = [];

  constructor(readonly backend: WasmBackend) {}

  /** Runs a WASM kernel directly on tensor infos (no engine, no tape); `keep` for the result we hand back. */
  run(name: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>, keep = false): tf.TensorInfo {
    const config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`the WASM backend has no ${name} kernel`);
    const out = config.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend: this.backend as never }) as tf.TensorInfo;
    if (!keep) this.scratch.push(out);
    return out;
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Crops x to `size` from the origin, or hands x back when it already has that shape. */
  cropTo(x: tf.TensorInfo, size: number[]): tf.TensorInfo {
    if (x.shape.every((d, i) => d === size[i])) return x;
    return this.run('Slice', { x }, { begin: size.map(() => 0), size });
  }

  release(): void {
    for (const t of this.scratch.splice(0)) this.backend.disposeData(t.dataId);
  }
}
