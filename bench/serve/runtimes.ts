/**
 * Replica runtime benchmark: does onnxruntime-node predict faster than tfjs WASM here? The same net
 * (the served architectures, seeded weights: the cost does not depend on them), exported with our
 * ONNX exporter, run in one process on the same bytes: a single image (what concurrency 1 costs)
 * and a batch of 32 (a full batch at GATEWAY_BATCH_MAX_SIZE). Each timing is one whole model call
 * as the Batcher makes it: bytes to the input tensor, predict, probabilities read back as numbers.
 * onnxruntime runs with 1 intra-op thread (a replica per core, as the chart and compose scale them)
 * and with its default (every core).
 * Usage: npx tsx bench/serve/runtimes.ts [--calls 2000]   (writes bench/results/serve-runtimes-<date>.json)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { createModel, exportOnnx, imagesToTensor, initBackend, ONNX_INPUT, ONNX_OUTPUT, PIXELS, type ModelArch } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { percentile } from './stats';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000' } } });
const CALLS = Number(values.calls);
const root = resolve(import.meta.dirname, '../..');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;

type Call = (bytes: Uint8Array, n: number) => Promise<number[][]> | number[][];

/** Per-call latencies (ms) of `calls` calls after a warm-up, on rotating test images. */
async function time(call: Call, batch: number, calls: number) {
  const inputs = Array.from({ length: 16 }, (_, i) => images.subarray(i * batch * PIXELS, (i + 1) * batch * PIXELS));
  for (let i = 0; i < 50; i++) await call(inputs[i % inputs.length]!, batch);
  const ms: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call(inputs[i % inputs.length]!, batch);
    ms.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  ms.sort((a, b) => a - b);
  return { p50Ms: percentile(ms, 0.5), p99Ms: percentile(ms, 0.99), imagesPerSec: (calls * batch) / seconds };
}

async function main(): Promise<void> {
  const backend = await initBackend('wasm');
  const load = loadavg()[0] ?? 0;
  const results: { arch: ModelArch; runtime: string; batch: number; p50Ms: number; p99Ms: number; imagesPerSec: number }[] = [];
  for (const arch of ['cnn-small', 'cnn-wide'] as const) {
    const model = createModel(arch, { seed: 1 });
    const bytes = exportOnnx(model);
    const tfjsCall: Call = (input, n) => tf.tidy(() => (model.predict(imagesToTensor(input, n)) as tf.Tensor2D).arraySync());
    const sessions = {
      'onnxruntime-node, 1 thread': await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 }),
      'onnxruntime-node, default threads': await ort.InferenceSession.create(bytes),
    };
    const ortCall =
      (session: ort.InferenceSession): Call =>
      async (input, n) => {
        const x = new Float32Array(n * PIXELS);
        for (let i = 0; i < x.length; i++) x[i] = (input[i] as number) / 255;
        const out = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, [n, 28, 28, 1]) }))[ONNX_OUTPUT]!;
        const data = out.data as Float32Array;
        return Array.from({ length: n }, (_, r) => Array.from(data.subarray(r * 10, (r + 1) * 10)));
      };
    for (const batch of [1, 32]) {
      const calls = batch === 1 ? CALLS : Math.max(100, Math.round(CALLS / 8));
      const runs: [string, Call][] = [[`tfjs ${backend.name}`, tfjsCall], ...Object.entries(sessions).map(([name, s]) => [name, ortCall(s)] as [string, Call])];
      for (const [runtime, call] of runs) {
        const r = await time(call, batch, calls);
        results.push({ arch, runtime, batch, ...r });
        console.log(`${arch} ${runtime}, batch ${batch}: p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms, ${r.imagesPerSec.toFixed(0)} images/s`);
      }
    }
    for (const s of Object.values(sessions)) await s.release();
    model.dispose();
  }
  const date = new Date().toISOString();
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const file = join(root, 'bench/results', `serve-runtimes-${date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify({ date, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadAverage1m: load }, onnxruntimeNode: ort.env.versions.node ?? 'unknown', calls: CALLS, results }, null, 2)}\n`);
  console.log(`wrote ${file} (1-minute load average at start ${load.toFixed(2)})`);
}

await main();
