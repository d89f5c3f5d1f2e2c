import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, imagesToTensor, initBackend, labelsToOneHot } from '../src';
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

function filterGrad(cfg: { x: number[]; f: number[]; stride: number | [number, number]; pad: 'same' | 'valid' | number }): Float32Array {
  return tf.tidy(() => {
    const rand = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);
    const x = rand(cfg.x, 1) as tf.Tensor4D;
    const f = rand(cfg.f, 2) as tf.Tensor4D;
    const g = tf.grad((filter: tf.Tensor) => {
      const y = tf.conv2d(x, filter as tf.Tensor4D, cfg.stride, cfg.pad);
      return y.mul(rand(y.shape, 3)).sum();
    })(f);
    return g.dataSync() as Float32Array;
  });
}

describe('Conv2DBackpropFilter on WASM (our kernel) against the CPU backend', () => {
  beforeAll(async () => {
    const choice = await initBackend('wasm');
    expect(choice.name).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it.each([
    { x: [2, 9, 9, 1], f: [3, 3, 1, 4], stride: 1, pad: 'same' as const },
    { x: [2, 9, 9, 1], f: [3, 3, 1, 4], stride: 1, pad: 'valid' as const },
    { x: [3, 12, 10, 3], f: [5, 5, 3, 8], stride: 2, pad: 'same' as const },
    { x: [1, 11, 11, 4], f: [2, 3, 4, 2], stride: 2, pad: 'valid' as const },
    { x: [4, 28, 28, 8], f: [5, 5, 8, 16], stride: 1, pad: 'valid' as const },
    { x: [2, 13, 9, 2], f: [3, 3, 2, 3], stride: [2, 1] as [number, number], pad: 'same' as const },
    { x: [2, 10, 10, 2], f: [3, 3, 2, 3], stride: 3, pad: 1 },
  ])('matches for x $x, filter $f, stride $stride, $pad padding', async (cfg) => {
    const cpu = await on('cpu', () => filterGrad(cfg));
    const wasm = await on('wasm', () => filterGrad(cfg));
    expect(maxAbsDiff(cpu, wasm)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(cpu, Math.abs))).toBeGreaterThan(0.1); // a real gradient, not zeros
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
});
