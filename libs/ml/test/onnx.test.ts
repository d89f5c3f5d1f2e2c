import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { beforeEach, describe, expect, it } from 'vitest';
import { createModel, exportOnnx, initBackend, loadOnnxRuntime, MODEL_ARCHS, ONNX_INPUT, ONNX_OUTPUT, ONNX_TOLERANCE, UnsupportedLayerError, verifyOnnx } from '../src';

const { onnx } = onnxProto;

/** A batch like the gateway's: NHWC [n,28,28,1] in [0,1], the same every run. */
const sampleBatch = (n = 16) => tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 11);

/** The export with the first Conv kernel's spatial axes swapped: same shape, wrong weights (a transposed-kernel bug). */
function withTransposedFirstKernel(bytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const conv = graph.node!.find((n) => n.opType === 'Conv')!;
  const kernel = graph.initializer!.find((t) => t.name === conv.input![1])!;
  const [out, inC, kh, kw] = kernel.dims!.map(Number) as [number, number, number, number];
  const raw = kernel.rawData!;
  const w = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const swapped = new Float32Array(w.length);
  for (let o = 0; o < out * inC; o++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) swapped[o * kh * kw + x * kh + y] = w[o * kh * kw + y * kw + x]!;
  kernel.rawData = new Uint8Array(swapped.buffer);
  return onnx.ModelProto.encode(model).finish();
}

/** Non-zero biases and arbitrary kernels, as after training (fresh biases are all zero and would hide a bias bug). */
function scrambleWeights(model: tf.LayersModel): void {
  model.layers.forEach((layer, l) => layer.setWeights(layer.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.2, 'float32', 100 * l + i))));
}

describe('ONNX export', () => {
  beforeEach(async () => {
    await initBackend('cpu');
  });

  it('finds onnxruntime-node (a dependency: with CI=true its absence fails here)', async () => {
    expect(await loadOnnxRuntime()).toBeDefined();
    expect(await loadOnnxRuntime('@mlpipe/no-such-runtime')).toBeUndefined();
  });

  // cpu is the reference kernels, wasm what trainers and the gateway run.
  for (const [arch, backend] of MODEL_ARCHS.flatMap((a) => (['cpu', 'wasm'] as const).map((b) => [a, b] as const))) {
    it(`${arch} on ${backend}: onnxruntime-node gives tfjs's outputs within ${ONNX_TOLERANCE}`, async () => {
      await initBackend(backend);
      expect(tf.getBackend()).toBe(backend);
      const model = createModel(arch, { seed: 5 });
      scrambleWeights(model);
      const x = sampleBatch();
      const bytes = exportOnnx(model);
      const verdict = await verifyOnnx(bytes, model, x);
      expect(verdict).toMatchObject({ verified: true, samples: 16 });
      // And independently of the verifier: run the file as a client would, and compare element by element.
      const session = await ort.InferenceSession.create(bytes);
      expect(session.inputNames).toEqual([ONNX_INPUT]);
      expect(session.outputNames).toEqual([ONNX_OUTPUT]);
      const got = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x.dataSync() as Float32Array, [16, 28, 28, 1]) }))[ONNX_OUTPUT]!;
      const want = (model.predict(x) as tf.Tensor).dataSync();
      expect(got.dims).toEqual([16, 10]);
      const data = got.data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(Math.abs(data[i]! - want[i]!)).toBeLessThanOrEqual(ONNX_TOLERANCE);
      await session.release();
      model.dispose();
    });
  }

  it('rejects an export whose conv kernel is transposed, saying by how much it is off', async () => {
    const model = createModel('cnn-small', { seed: 5 });
    const broken = withTransposedFirstKernel(exportOnnx(model));
    const verdict = await verifyOnnx(broken, model, sampleBatch());
    expect(verdict.verified).toBe(false);
    if (verdict.verified) return;
    expect(verdict.maxAbsDiff).toBeGreaterThan(ONNX_TOLERANCE);
    expect(verdict.reason).toMatch(/ONNX outputs differ from tfjs by up to .* \(tolerance 0\.00001\)/);
  });

  it('rejects bytes onnxruntime cannot load, with its reason', async () => {
    const verdict = await verifyOnnx(new Uint8Array([1, 2, 3]), createModel('cnn-small'), sampleBatch(2));
    expect(verdict).toMatchObject({ verified: false, reason: expect.stringMatching(/onnxruntime-node could not run the export/) });
  });

  it('translates same padding, average pooling, batch norm, activation and reshape layers too', async () => {
    const model = tf.sequential();
    model.add(tf.layers.reshape({ inputShape: [784], targetShape: [28, 28, 1] }));
    model.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false }));
    model.add(tf.layers.batchNormalization({ epsilon: 0.01 }));
    model.add(tf.layers.activation({ activation: 'tanh' }));
    model.add(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid' }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 6, activation: 'sigmoid', useBias: false }));
    model.add(tf.layers.batchNormalization({}));
    model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
    // Non-trivial moving statistics, as after training.
    for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
      layer.setWeights(layer.getWeights().map((w, i) => tf.randomUniform(w.shape, i === 3 ? 0.5 : -1, 2, 'float32', 20 + i)));
    }
    const x = tf.randomUniform([8, 784], 0, 1, 'float32', 3);
    expect(await verifyOnnx(exportOnnx(model), model, x)).toMatchObject({ verified: true });
  });

  it('answers a model that ends on a feature map in NHWC, like tfjs', async () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 3, kernelSize: 5, strides: 2, dilationRate: 1, padding: 'same' })] });
    scrambleWeights(model);
    expect(await verifyOnnx(exportOnnx(model), model, sampleBatch(2))).toMatchObject({ verified: true });
  });

  it('refuses a layer it has no translation for, naming it', () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, activation: 'relu6' })] });
    expect(() => exportOnnx(model)).toThrow(UnsupportedLayerError);
    const leaky = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2 }), tf.layers.leakyReLU({})] });
    expect(() => exportOnnx(leaky)).toThrow(/\(LeakyReLU\) has no ONNX translation/);
    const rnn = tf.sequential({ layers: [tf.layers.simpleRNN({ inputShape: [4, 3], units: 2 })] });
    expect(() => exportOnnx(rnn)).toThrow(/rank-3 input/);
  });
});
