import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGradient, conv2dInputGradient, type FilterGradAttrs, type InputGradAttrs } from './conv2dGradients';
import { registerConv3dFilterGradient } from './conv2dBackpropFilterConv3d';
import { leadingAxesSum, type SumAttrs } from './leadingAxesSum';
import { maxPoolGradient, type MaxPoolGradAttrs } from './maxPoolGrad';
import { sharedCopy, type RefCountingBackend } from './sharedCopy';
import { transposedMatMul, type BatchMatMulAttrs } from './transposedMatMul';
import type { WasmBackend } from './wasmCalls';

type KernelFunc = tf.KernelConfig['kernelFunc'];
const registered = new Set<string>();

/**
 * Puts our gradient kernels in front of the WASM backend's: the two convolution gradients as
 * forward convolutions on XNNPACK, max-pool's gradient as one JS pass, and the bias gradients'
 * sums over leading axes as average pooling, and products of transposed matrices (a dense
 * layer's gradients) as a transpose and a plain product; copies the engine makes (Identity, a Cast
 * to the same dtype) share the bytes. The backend's forward
 * Conv2D is vectorised; its backward kernels are scalar loops, and they were 90% of a training
 * step. Where our kernel does not cover a case it hands it to the kernel it replaced, so
 * everything the backend could do before still works. Idempotent.
 */
export function registerWasmGradientKernels(): string[] {
  registerConv3dFilterGradient();
  replace('Conv2DBackpropFilter', (fallback) => (args) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    return conv2dFilterGradient(args.backend as unknown as WasmBackend, x, dy, args.attrs as unknown as FilterGradAttrs) ?? fallback(args);
  });
  replace('Conv2DBackpropInput', (fallback) => (args) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    return conv2dInputGradient(args.backend as unknown as WasmBackend, dy, filter, args.attrs as unknown as InputGradAttrs) ?? fallback(args);
  });
  replace('MaxPoolGrad', () => (args) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    return maxPoolGradient(args.backend as unknown as WasmBackend, dy, input, args.attrs as unknown as MaxPoolGradAttrs);
  });
  replace('Sum', (fallback) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return leadingAxesSum(args.backend as unknown as WasmBackend, x, args.attrs as unknown as SumAttrs) ?? fallback(args);
  });
  replace('BatchMatMul', (fallback) => (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const plain = (l: tf.TensorInfo, r: tf.TensorInfo) => fallback({ ...args, inputs: { a: l, b: r }, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
    return transposedMatMul(args.backend as unknown as WasmBackend, a, b, args.attrs as unknown as BatchMatMulAttrs, plain) ?? fallback(args);
  });
  replace('Identity', (fallback) => (args) => sharedCopy(args.backend as unknown as RefCountingBackend, (args.inputs as { x: tf.TensorInfo }).x) ?? fallback(args));
  replace('Cast', (fallback) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return sharedCopy(args.backend as unknown as RefCountingBackend, x, (args.attrs as { dtype: tf.DataType }).dtype) ?? fallback(args);
  });
  return [...registered];
}

function replace(kernelName: string, make: (fallback: KernelFunc) => KernelFunc): void {
  if (registered.has(kernelName)) return;
  const previous = tf.getKernel(kernelName, 'wasm');
  if (!previous) throw new Error(`the WASM backend has no ${kernelName} kernel to fall back on`);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...previous, kernelFunc: make(previous.kernelFunc) });
  registered.add(kernelName);
}
