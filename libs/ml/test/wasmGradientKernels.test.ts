import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, imagesToTensor, initBackend, labelsToOneHot, registerWasmGradientKernels } from '../src';
import { conv2dFilterGradient, conv2dInputGradient } from '../src/kernels/conv2dGradients';
import { leadingAxesSum } from '../src/kernels/leadingAxesSum';
import type { WasmBackend } from '../src/kernels/wasmCalls';
import { loadMnist } from './mnist';

/** Runs fn on a backend and returns plain arrays, so results of two backends can be compared. */
async function on<T>(backend: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  await tf.setBackend(backend);
  await tf.ready();
  return fn();
}

function maxAbsDiff(a: Float32Array | number[], b: Float32Array | number[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

type Padding = 'same' | 'valid' | number;
interface ConvCase {
  x: number[];
  f: number[];
  stride: number | [number, number];
  pad: Padding;
}

const rand = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

/** d(Σ y·r)/d(filter) and /d(x) for y = conv2d(x, filter): both gradient kernels run. */
function convGrads(cfg: ConvCase): { filter: Float32Array; x: Float32Array } {
  return tf.tidy(() => {
    const x = rand(cfg.x, 1) as tf.Tensor4D;
    const f = rand(cfg.f, 2) as tf.Tensor4D;
    const [gx, gf] = tf.grads((xi: tf.Tensor, fi: tf.Tensor) => {
      const y = tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, cfg.stride, cfg.pad);
      return y.mul(rand(y.shape, 3)).sum();
    })([x, f]) as [tf.Tensor, tf.Tensor];
    return { filter: gf.dataSync() as Float32Array, x: gx.dataSync() as Float32Array };
  });
}

function poolGrad(cfg: { x: number[]; size: number; stride: number; pad: Padding; ties?: boolean }): Float32Array {
  return tf.tidy(() => {
    // With ties, whole windows share one value: the gradient must go to the first of them only.
    const x = cfg.ties ? rand(cfg.x, 4).mul(3).round() : rand(cfg.x, 4);
    const g = tf.grad((xi: tf.Tensor) => {
      const y = tf.maxPool(xi as tf.Tensor4D, cfg.size, cfg.stride, cfg.pad);
      return y.mul(rand(y.shape, 5)).sum();
    })(x);
    return g.dataSync() as Float32Array;
  });
}

/** The shapes of every convolution in cnn-small and cnn-deep (batch 64 cut to 4), then odd ones. */
const CONV_CASES: ConvCase[] = [
  { x: [4, 28, 28, 1], f: [5, 5, 1, 8], stride: 1, pad: 'valid' },
  { x: [4, 12, 12, 8], f: [5, 5, 8, 16], stride: 1, pad: 'valid' },
  { x: [4, 28, 28, 1], f: [3, 3, 1, 16], stride: 1, pad: 'valid' },
  { x: [4, 26, 26, 16], f: [3, 3, 16, 16], stride: 1, pad: 'valid' },
  { x: [4, 12, 12, 16], f: [3, 3, 16, 32], stride: 1, pad: 'valid' },
  { x: [4, 10, 10, 32], f: [3, 3, 32, 32], stride: 1, pad: 'valid' },
  { x: [2, 9, 9, 1], f: [3, 3, 1, 4], stride: 1, pad: 'same' },
  { x: [2, 14, 14, 6], f: [5, 5, 6, 4], stride: 1, pad: 'same' },
  { x: [3, 12, 10, 3], f: [5, 5, 3, 8], stride: 2, pad: 'same' },
  { x: [1, 11, 11, 4], f: [2, 3, 4, 2], stride: 2, pad: 'valid' },
  { x: [2, 13, 9, 2], f: [3, 3, 2, 3], stride: [2, 1], pad: 'same' },
  { x: [2, 10, 10, 2], f: [3, 3, 2, 3], stride: 3, pad: 1 },
  // Numeric padding wider than the filter (dy rows that reach no input). Square: tfjs sizes
  // numeric-padded outputs from the filter height alone, so a non-square filter breaks its forward pass.
  { x: [2, 8, 7, 3], f: [2, 2, 3, 5], stride: 1, pad: 2 },
  { x: [2, 8, 7, 3], f: [4, 2, 3, 5], stride: 1, pad: 'same' },
  { x: [1, 6, 6, 2], f: [1, 1, 2, 3], stride: 1, pad: 'valid' },
];

describe('gradient kernels on WASM against the CPU backend', () => {
  beforeAll(async () => {
    const choice = await initBackend('wasm');
    expect(choice.name).toBe('wasm');
    expect(registerWasmGradientKernels()).toEqual(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'Sum', 'BatchMatMul', 'Identity', 'Cast']);
  });

  it.each(CONV_CASES)('conv2d gradients match for x $x, filter $f, stride $stride, $pad padding', async (cfg) => {
    const cpu = await on('cpu', () => convGrads(cfg));
    const wasm = await on('wasm', () => convGrads(cfg));
    expect(maxAbsDiff(cpu.filter, wasm.filter)).toBeLessThan(1e-4);
    expect(maxAbsDiff(cpu.x, wasm.x)).toBeLessThan(1e-4);
    // A real gradient, not zeros.
    expect(Math.max(...Array.from(cpu.filter, Math.abs))).toBeGreaterThan(0.1);
    expect(Math.max(...Array.from(cpu.x, Math.abs))).toBeGreaterThan(0.1);
  });

  it.each([
    { x: [4, 24, 24, 8], size: 2, stride: 2, pad: 'valid' as const },
    { x: [4, 8, 8, 16], size: 2, stride: 2, pad: 'valid' as const },
    { x: [2, 7, 7, 3], size: 2, stride: 2, pad: 'same' as const },
    { x: [2, 9, 9, 2], size: 3, stride: 2, pad: 'same' as const },
    { x: [2, 9, 9, 2], size: 3, stride: 1, pad: 'valid' as const },
    { x: [2, 8, 8, 3], size: 2, stride: 2, pad: 'valid' as const, ties: true },
    // The tiled fast path with a row and a column the windows leave out.
    { x: [2, 7, 9, 3], size: 2, stride: 2, pad: 'valid' as const, ties: true },
    { x: [2, 8, 6, 4], size: 2, stride: 2, pad: 'same' as const },
    { x: [2, 9, 9, 2], size: 3, stride: 2, pad: 'same' as const, ties: true },
  ])('max-pool gradients match for x $x, window $size, stride $stride, $pad padding, ties $ties', async (cfg) => {
    const cpu = await on('cpu', () => poolGrad(cfg));
    const wasm = await on('wasm', () => poolGrad(cfg));
    expect(maxAbsDiff(cpu, wasm)).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(cpu, Math.abs))).toBeGreaterThan(0.1);
  });

  it.each([
    { shape: [64, 26, 26, 16], axis: [0, 1, 2], keepDims: false },
    { shape: [64, 24, 24, 8], axis: [2, 0, 1], keepDims: true },
    { shape: [64, 1568], axis: 0, keepDims: false },
    { shape: [8, 16, 5, 3], axis: [-4, -3], keepDims: false },
    // Not a leading-axes sum, or too few rows: the backend's own kernel answers.
    { shape: [64, 12, 12, 8], axis: [1, 2], keepDims: false },
    { shape: [64, 12, 12, 8], axis: [0, 1, 2, 3], keepDims: false },
    { shape: [4, 10], axis: 0, keepDims: false },
  ])('sums of $shape over axes $axis (keepDims $keepDims) match', async (cfg) => {
    const sum = () => tf.tidy(() => {
      const t = rand(cfg.shape, 6);
      const s = t.sum(cfg.axis, cfg.keepDims);
      return { shape: s.shape, values: s.dataSync() as Float32Array };
    });
    const cpu = await on('cpu', sum);
    const wasm = await on('wasm', sum);
    expect(wasm.shape).toEqual(cpu.shape);
    // Float32 sums of up to 43k terms in a different order: equal to a few units in the last place of the total.
    expect(maxAbsDiff(cpu.values, wasm.values)).toBeLessThan(2e-3);
    expect(Math.max(...Array.from(cpu.values, Math.abs))).toBeGreaterThan(1);
  });

  it.each([
    { a: [64, 64], b: [512, 64], transposeA: false, transposeB: true },
    { a: [64, 512], b: [64, 64], transposeA: true, transposeB: false },
    { a: [3, 7, 5], b: [3, 6, 7], transposeA: true, transposeB: true },
    { a: [2, 4, 9], b: [2, 9, 3], transposeA: false, transposeB: false },
  ])('matrix products of $a and $b (transposed $transposeA, $transposeB) match', async (cfg) => {
    const product = () => tf.tidy(() => {
      const p = tf.matMul(rand(cfg.a, 7), rand(cfg.b, 8), cfg.transposeA, cfg.transposeB);
      return { shape: p.shape, values: p.dataSync() as Float32Array };
    });
    const cpu = await on('cpu', product);
    const wasm = await on('wasm', product);
    expect(wasm.shape).toEqual(cpu.shape);
    expect(maxAbsDiff(cpu.values, wasm.values)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(cpu.values, Math.abs))).toBeGreaterThan(0.5);
  });

  it('sums integers with the backend\'s kernel', async () => {
    const s = await on('wasm', () => tf.tidy(() => tf.ones([128, 4], 'int32').sum(0)));
    expect(s.dtype).toBe('int32');
    expect(Array.from(s.dataSync())).toEqual([128, 128, 128, 128]);
    s.dispose();
  });

  it('takes the fast path on the layer shapes and hands back undefined where it falls back', async () => {
    await on('wasm', () => undefined);
    const backend = tf.backend() as unknown as WasmBackend;
    const x = rand([2, 12, 12, 8], 1);
    const f = rand([5, 5, 8, 16], 2);
    const dy = rand([2, 8, 8, 16], 3);
    const attrs = { strides: 1, pad: 'valid' as const, dataFormat: 'NHWC' as const };
    const dw = conv2dFilterGradient(backend, x, dy, { ...attrs, filterShape: [5, 5, 8, 16] });
    const dx = conv2dInputGradient(backend, dy, f, { ...attrs, inputShape: [2, 12, 12, 8] });
    expect(dw?.shape).toEqual([5, 5, 8, 16]);
    expect(dx?.shape).toEqual([2, 12, 12, 8]);
    for (const t of [dw, dx]) if (t) backend.disposeData(t.dataId);
    // Strided input gradients and channels-first data are the old kernels' job.
    expect(conv2dInputGradient(backend, rand([2, 4, 4, 16], 3), f, { ...attrs, strides: 2, inputShape: [2, 12, 12, 8] })).toBeUndefined();
    expect(conv2dFilterGradient(backend, x, dy, { ...attrs, dataFormat: 'NCHW', filterShape: [5, 5, 8, 16] })).toBeUndefined();
    tf.dispose([x, f, dy]);
    // Bias gradients (sums over every axis but the channels') are the pooling path's; others are not.
    const act = rand([64, 6, 6, 8], 4);
    const bias = leadingAxesSum(backend, act, { axis: [0, 1, 2], keepDims: false });
    expect(bias?.shape).toEqual([8]);
    if (bias) backend.disposeData(bias.dataId);
    expect(leadingAxesSum(backend, act, { axis: [1, 2], keepDims: false })).toBeUndefined();
    expect(leadingAxesSum(backend, act, { axis: null, keepDims: false })).toBeUndefined();
    act.dispose();
  });

  it.each(['cnn-small', 'cnn-deep'] as const)('gives the same weight gradients for a %s training step', async (arch) => {
    const data = loadMnist('train', 32);
    const grads = (backend: 'cpu' | 'wasm') =>
      on(backend, () => {
        const model = createModel(arch, { seed: 7 });
        const result = tf.tidy(() => {
          const xs = imagesToTensor(data.images, data.count);
          const ys = labelsToOneHot(data.labels, data.count);
          const { grads } = tf.variableGrads(() =>
            tf.losses.softmaxCrossEntropy(ys, (model.apply(xs, { training: false }) as tf.Tensor).log()),
          );
          return Object.values(grads).map((g) => Array.from(g.dataSync()));
        });
        model.dispose();
        return result;
      });
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    expect(wasm.length).toBe(cpu.length);
    cpu.forEach((g, i) => expect(maxAbsDiff(g, wasm[i] as number[])).toBeLessThan(1e-4));
    await tf.setBackend('wasm');
  });

  it('shares the bytes of copies the engine makes, frees them with the last holder, and still converts a Cast', async () => {
    await on('wasm', () => undefined);
    const backend = tf.backend() as unknown as { dataIdMap: { has(id: object): boolean; size: number } };
    const x = tf.tensor([1.5, -2, 3.25]);
    const copy = tf.clone(x);
    const same = tf.cast(x, 'float32');
    expect(copy.dataId).toBe(x.dataId);
    expect(same.dataId).toBe(x.dataId);
    x.dispose();
    copy.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2, 3.25]);
    expect(backend.dataIdMap.has(same.dataId)).toBe(true);
    same.dispose();
    expect(backend.dataIdMap.has(same.dataId)).toBe(false);
    // A Cast that changes the dtype is the backend's: it converts into bytes of its own.
    const ints = tf.tensor([1.7, -2.2, 3], undefined, 'float32').cast('int32');
    expect(ints.dtype).toBe('int32');
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3]);
    ints.dispose();
    // Training steps leave nothing behind on the heap: every shared copy is released.
    const data = loadMnist('train', 16);
    const model = createModel('cnn-small', { seed: 3 });
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    const xs = imagesToTensor(data.images, data.count);
    const ys = labelsToOneHot(data.labels, data.count);
    await model.trainOnBatch(xs, ys);
    const held = backend.dataIdMap.size;
    for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
    expect(backend.dataIdMap.size).toBe(held);
    tf.dispose([xs, ys]);
    model.dispose();
  });
});
