/**
 * One tfjs entry of the training benchmark, in its own process so its peak RSS is its own and
 * backends do not share a process: trains `--arch` on `--backend` with the recipe torch_bench.py
 * uses, and prints one JSON line (EntryResultSchema) on stdout; progress goes to stderr.
 * Usage: npx tsx bench/train/tfjsEntry.ts --backend wasm --arch cnn-small --max-seconds 60 [--targets 0.985,0.99,0.994]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { parseIdx, readSeedFile, type LabelledImages } from '@mlpipe/dataset';
import { createModel, evaluateModel, imagesToTensor, initBackend, labelsToOneHot, MODEL_ARCHS, shuffledIndices, type ModelArch } from '@mlpipe/ml';
import { RECIPE, TARGETS } from './recipe';
import { targetKey, type EntryResult } from './result';

const BATCH = RECIPE.batchSize;

function load(split: 'train' | 't10k'): LabelledImages {
  const images = parseIdx(readSeedFile('mnist', `${split}-images-idx3-ubyte`)).data;
  const labels = parseIdx(readSeedFile('mnist', `${split}-labels-idx1-ubyte`)).data;
  return { images, labels, count: labels.length };
}

interface EntryOptions {
  backend: string;
  arch: ModelArch;
  maxSeconds: number;
  targets: number[];
  /** False for the pure-JS CPU backend: evaluating 10,000 images there costs more than the run. */
  measureAccuracy: boolean;
}

/** Trains until the last target or the cap, timing training steps only (evaluation pauses the clock). */
async function measure(opts: EntryOptions, train: LabelledImages, test: LabelledImages): Promise<EntryResult> {
  const model = createModel(opts.arch, { seed: RECIPE.seed, learningRate: RECIPE.learningRate });
  const secondsToTarget: Record<string, number | null> = Object.fromEntries(opts.targets.map((t) => [targetKey(t), null]));
  const last = targetKey(Math.max(...opts.targets));
  let trainSeconds = 0;
  let trained = 0;
  let sinceEval = 0;
  let evaluations = 0;
  let best = 0;
  for (let epoch = 1; trainSeconds < opts.maxSeconds && secondsToTarget[last] === null; epoch++) {
    const order = shuffledIndices(train.count, epoch);
    for (let start = 0; start < train.count && trainSeconds < opts.maxSeconds; start += BATCH) {
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
      if (!opts.measureAccuracy || sinceEval < RECIPE.evalEverySamples) continue;
      sinceEval = 0;
      evaluations++;
      const acc = evaluateModel(model, test).accuracy;
      best = Math.max(best, acc);
      for (const t of opts.targets) if (acc >= t && secondsToTarget[targetKey(t)] === null) secondsToTarget[targetKey(t)] = trainSeconds;
      console.error(`  ${opts.backend} ${opts.arch}: ${trained} samples, ${trainSeconds.toFixed(1)} s, test accuracy ${(acc * 100).toFixed(2)}%`);
      if (secondsToTarget[last] !== null) break;
    }
  }
  const params = model.countParams();
  model.dispose();
  return {
    framework: 'tfjs',
    version: tfjsVersion(),
    backend: opts.backend,
    arch: opts.arch,
    threads: 1,
    params,
    samplesPerSec: trainSeconds > 0 ? trained / trainSeconds : 0,
    trainedSamples: trained,
    trainSeconds,
    evaluations,
    secondsToTarget,
    bestTestAccuracy: opts.measureAccuracy ? best : null,
    // maxRSS is in KiB.
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    capSeconds: opts.maxSeconds,
  };
}

function tfjsVersion(): string {
  const pkg = resolve(import.meta.dirname, '../../node_modules/@tensorflow/tfjs/package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'wasm' },
      arch: { type: 'string', default: 'cnn-small' },
      'max-seconds': { type: 'string', default: '60' },
      targets: { type: 'string', default: TARGETS.join(',') },
    },
  });
  const arch = MODEL_ARCHS.find((a) => a === values.arch);
  if (!arch) throw new Error(`--arch ${values.arch} is not one of ${MODEL_ARCHS.join(', ')}`);
  const backend = values.backend;
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend ${backend} is not wasm or cpu`);
  const choice = await initBackend(backend);
  await tf.setBackend(choice.name);
  const result = await measure(
    { backend: choice.name, arch, maxSeconds: Number(values['max-seconds']), targets: values.targets.split(',').map(Number), measureAccuracy: choice.name !== 'cpu' },
    load('train'),
    load('t10k'),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
