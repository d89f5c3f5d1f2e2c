/**
 * Training benchmark: for each TensorFlow.js backend that loads here and each architecture,
 * training throughput (samples/s) and wall time to reach 97% and 98.5% test accuracy on MNIST.
 * Usage: npx tsx bench/train/run.ts [--quick]   (writes bench/results/train-<date>.json and docs/benchmarks-train.md)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { parseIdx, readSeedFile, PIXELS, type LabelledImages } from '@mlpipe/dataset';
import { createModel, evaluateModel, imagesToTensor, initBackend, labelsToOneHot, MODEL_ARCHS, shuffledIndices, type ModelArch } from '@mlpipe/ml';

const quick = process.argv.includes('--quick');
const root = resolve(import.meta.dirname, '../..');
const BATCH = 64;
const EVAL_EVERY = 6400; // samples between test evaluations
const TEST_SAMPLES = 10_000;
const CAP_SECONDS: Record<string, number> = { wasm: quick ? 60 : 300, cpu: quick ? 20 : 45 };

function load(split: 'train' | 't10k', count: number): LabelledImages {
  const images = parseIdx(readSeedFile('mnist', `${split}-images-idx3-ubyte`)).data;
  const labels = parseIdx(readSeedFile('mnist', `${split}-labels-idx1-ubyte`)).data;
  return { images: images.slice(0, count * PIXELS), labels: labels.slice(0, count), count };
}

interface Result {
  backend: string;
  arch: ModelArch;
  params: number;
  samplesPerSec: number;
  trainedSamples: number;
  trainSeconds: number;
  secondsTo97: number | null;
  secondsTo985: number | null;
  bestTestAccuracy: number;
  capSeconds: number;
}

/** Trains until 98.5% or the time cap, timing training only (evaluation pauses the clock). */
async function measure(backend: string, arch: ModelArch, train: LabelledImages, test: LabelledImages): Promise<Result> {
  const model = createModel(arch, { seed: 1, learningRate: 0.003 });
  const cap = CAP_SECONDS[backend] ?? 60;
  let trainSeconds = 0;
  let trained = 0;
  let sinceEval = 0;
  let best = 0;
  let to97: number | null = null;
  let to985: number | null = null;
  for (let epoch = 1; trainSeconds < cap && to985 === null; epoch++) {
    const order = shuffledIndices(train.count, epoch);
    for (let start = 0; start < train.count && trainSeconds < cap; start += BATCH) {
      const size = Math.min(BATCH, train.count - start);
      const t0 = performance.now();
      const xs = imagesToTensor(train.images, size, order, start);
      const ys = labelsToOneHot(train.labels, size, order, start);
      await model.trainOnBatch(xs, ys);
      xs.dispose();
      ys.dispose();
      trainSeconds += (performance.now() - t0) / 1000;
      trained += size;
      sinceEval += size;
      if (sinceEval >= EVAL_EVERY && backend !== 'cpu') {
        sinceEval = 0;
        const acc = evaluateModel(model, test).accuracy;
        best = Math.max(best, acc);
        if (acc >= 0.97 && to97 === null) to97 = trainSeconds;
        if (acc >= 0.985 && to985 === null) to985 = trainSeconds;
        console.log(`  ${backend} ${arch}: ${trained} samples, ${trainSeconds.toFixed(1)} s, test accuracy ${(acc * 100).toFixed(2)}%`);
        if (to985 !== null) break;
      }
    }
  }
  if (backend === 'cpu') best = evaluateModel(model, { ...test, count: 1000 }).accuracy;
  const result = {
    backend,
    arch,
    params: model.countParams(),
    samplesPerSec: trained / trainSeconds,
    trainedSamples: trained,
    trainSeconds,
    secondsTo97: to97,
    secondsTo985: to985,
    bestTestAccuracy: best,
    capSeconds: cap,
  };
  model.dispose();
  return result;
}

const fmt = (s: number | null, cap: number) => (s === null ? `not within ${cap} s` : `${s.toFixed(1)} s`);

async function main(): Promise<void> {
  const train = load('train', 60_000);
  const test = load('t10k', TEST_SAMPLES);
  const results: Result[] = [];
  for (const backend of ['wasm', 'cpu'] as const) {
    const choice = await initBackend(backend);
    await tf.setBackend(choice.name);
    for (const arch of MODEL_ARCHS) {
      console.log(`${backend} ${arch}…`);
      results.push(await measure(choice.name, arch, train, test));
    }
  }
  const pkg = JSON.parse(readFileSync(join(root, 'node_modules/@tensorflow/tfjs/package.json'), 'utf8')) as { version: string };
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    tfjs: pkg.version,
    settings: { batchSize: BATCH, evalEverySamples: EVAL_EVERY, testSamples: TEST_SAMPLES, learningRate: 0.003, quick },
    results,
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const file = join(root, 'bench/results', `train-${report.date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const rows = results.map(
    (r) =>
      `| ${r.backend} | ${r.arch} | ${r.params.toLocaleString('en')} | ${r.samplesPerSec.toFixed(0)} | ${r.backend === 'cpu' ? 'not measured (too slow)' : fmt(r.secondsTo97, r.capSeconds)} | ${r.backend === 'cpu' ? 'not measured (too slow)' : fmt(r.secondsTo985, r.capSeconds)} | ${(r.bestTestAccuracy * 100).toFixed(2)}% |`,
  );
  const doc = `# Training benchmark

Produced by \`npx tsx bench/train/run.ts\` on ${report.date.slice(0, 10)} (${report.machine.cpus} cores, ${report.machine.cpuModel}, Node ${report.machine.node}, TensorFlow.js ${report.tfjs}); raw numbers in [\`bench/results/${file.split('/').pop()}\`](../bench/results/${file.split('/').pop()}).

One process, batch size ${BATCH}, Adam at 0.003, seed 1. Time counts training steps only: the test-set evaluation every ${EVAL_EVERY} samples (on all ${TEST_SAMPLES} MNIST test images) pauses the clock. Time-to-accuracy runs stop at 98.5% or the cap (${CAP_SECONDS.wasm} s for WASM). The pure-JS CPU backend only gets ${CAP_SECONDS.cpu} s for throughput: it is too slow to train to accuracy in a benchmark run (its accuracy column is on 1,000 test images after that short run). \`@tensorflow/tfjs-node\` does not install on this machine (its native library is downloaded at install time), so it has no row.

| backend | architecture | parameters | samples/s | time to 97% | time to 98.5% | best test accuracy |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
  writeFileSync(join(root, 'docs/benchmarks-train.md'), doc);
  console.log(doc);
}

await main();
