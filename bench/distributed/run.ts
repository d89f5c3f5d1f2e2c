/**
 * Distributed training benchmark: real trainer processes (the service's own entry point) on one
 * machine, a job of 1 or 2 data-parallel replicas, with and without gradient compression, and with
 * the ring all-reduce (`exchange: ring`). Measures samples/s, the share of step time spent in the
 * gradient exchange, bytes sent per step, and wall time until validation accuracy first reaches 99.0%, on cnn-wide (the fast recipe's net).
 * Usage: npx tsx bench/distributed/run.ts [--quick] [--batch 64]
 * (writes bench/results/distributed-<date>.json and docs/benchmarks-distributed.md)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { consumeEvents, publishEvent, type Bus } from '@mlpipe/bus';
import { createTestBus, writeMnistVersion } from '@mlpipe/testing';
import { eventually } from '@mlpipe/common';
import { createLogger } from '@mlpipe/runtime';
import { HyperparamsSchema, type Envelope, type EventType } from '@mlpipe/contracts';
import { createObjectStore } from '@mlpipe/storage';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, batch: { type: 'string', default: '64' } } });
const quick = values.quick === true;
const batchSize = Number(values.batch);
const root = resolve(import.meta.dirname, '../..');
const logger = createLogger('bench', 'silent');
const TRAIN = quick ? 12_000 : 60_000;
const TARGET = 0.99;
/** The net of the fast recipe, trained here with the plain recipe of bench/train (Adam 0.003, constant). */
const ARCH = 'cnn-wide';

interface Config {
  name: string;
  replicas: number;
  compression: 'none' | 'fp16' | 'topk';
  exchange?: 'coordinator' | 'ring';
  epochs: number;
}

const CONFIGS: Config[] = [
  { name: '1 replica', replicas: 1, compression: 'none', epochs: quick ? 2 : 4 },
  { name: '2 replicas, float32', replicas: 2, compression: 'none', epochs: quick ? 2 : 4 },
  { name: '2 replicas, ring all-reduce', replicas: 2, compression: 'none', exchange: 'ring', epochs: quick ? 2 : 4 },
  { name: '2 replicas, fp16', replicas: 2, compression: 'fp16', epochs: 2 },
  { name: '2 replicas, top-k 1% + error feedback', replicas: 2, compression: 'topk', epochs: 2 },
];

interface Result extends Config {
  arch: string;
  batchSize: number;
  trainSamples: number;
  samplesPerSec: number;
  exchangeShare: number | null;
  bytesPerStep: number | null;
  valAccuracyByEpoch: number[];
  secondsToTarget: number | null;
  testAccuracy: number;
  wallSeconds: number;
}

function startReplica(bus: Bus, dir: string, id: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'services/trainer/src/main.ts')], {
    cwd: root,
    env: { ...process.env, BUS_NAMESPACE: bus.namespace, STORE_KIND: 'fs', STORE_ROOT: dir, TRAINER_BACKEND: 'wasm', TRAINER_REPLICA_ID: id, HTTP_PORT: '0', LOG_LEVEL: 'warn', TRAINER_JOIN_WINDOW_MS: '60000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function run(config: Config): Promise<Result> {
  const bus = await createTestBus();
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-bench-dp-'));
  const store = createObjectStore({ kind: 'fs', root: dir });
  const version = await writeMnistVersion(store, TRAIN, 10_000);
  const events: Envelope[] = [];
  const watch = await consumeEvents(bus, {
    durable: 'bench',
    logger,
    handlers: Object.fromEntries((['train.job.started', 'train.job.progress', 'train.job.completed', 'train.job.failed'] as EventType[]).map((t) => [t, async (e: Envelope) => void events.push(e)])),
  });
  const replicas = Array.from({ length: config.replicas }, (_, i) => startReplica(bus, dir, `bench-${i}`));
  try {
    const hyperparams = HyperparamsSchema.parse({ arch: ARCH, epochs: config.epochs, batchSize, seed: 1, validationShare: 5000 / TRAIN, compression: config.compression, exchange: config.exchange ?? 'coordinator' });
    for (let rank = 0; rank < config.replicas; rank++) {
      const job = { jobId: `bench-${config.replicas}-${config.compression}-${config.exchange ?? 'coordinator'}`, modelName: 'mnist', dataset: 'mnist' as const, datasetVersion: version.id, hyperparams, replicas: config.replicas, rank, trigger: { kind: 'manual' as const, reason: 'benchmark' } };
      await publishEvent(bus, 'train.job.requested', job, { source: 'bench', eventId: `bench:${rank}` });
    }
    const of = <T extends EventType>(type: T) => events.filter((e) => e.type === type) as Envelope<T>[];
    const done = await eventually(() => of('train.job.completed')[0] ?? (of('train.job.failed')[0] ? Promise.reject(new Error(of('train.job.failed')[0]!.data.error)) : undefined), 1800_000, 'the job');
    const started = Date.parse(of('train.job.started')[0]!.occurredAt);
    const progress = of('train.job.progress').sort((a, b) => a.data.metrics.epoch - b.data.metrics.epoch);
    const at = (e: Envelope) => Date.parse(e.occurredAt);
    // Throughput between the first and last epoch ends: the same clock (and the same per-epoch
    // validation and checkpoint) for every configuration, and no start-up or group forming.
    const first = progress[0]!;
    const last = progress.at(-1)!;
    const samplesPerEpoch = done.data.trainSamples;
    const samplesPerSec = progress.length > 1 ? (samplesPerEpoch * (progress.length - 1)) / ((at(last) - at(first)) / 1000) : first.data.metrics.samplesPerSec;
    const reached = progress.find((p) => (p.data.metrics.valAccuracy ?? 0) >= TARGET);
    return {
      ...config,
      arch: ARCH,
      batchSize,
      trainSamples: samplesPerEpoch,
      samplesPerSec,
      exchangeShare: done.data.distributed?.exchangeShare ?? null,
      bytesPerStep: done.data.distributed?.bytesPerStep ?? null,
      valAccuracyByEpoch: progress.map((p) => p.data.metrics.valAccuracy ?? 0),
      secondsToTarget: reached ? (at(reached) - started) / 1000 : null,
      testAccuracy: done.data.evaluation.testAccuracy,
      wallSeconds: (Date.parse(done.occurredAt) - started) / 1000,
    };
  } finally {
    for (const r of replicas) r.kill('SIGTERM');
    await watch.stop();
    await bus.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
for (const config of CONFIGS) {
  const r = await run(config);
  results.push(r);
  console.log(`${r.name}: ${r.samplesPerSec.toFixed(0)} samples/s, exchange ${r.exchangeShare === null ? '-' : (r.exchangeShare * 100).toFixed(1) + '%'}, ${r.bytesPerStep === null ? '-' : (r.bytesPerStep / 1024).toFixed(1) + ' KiB/step'}, test ${(r.testAccuracy * 100).toFixed(2)}%`);
}
const base = results[0]!.samplesPerSec;
const date = new Date().toISOString().slice(0, 10);
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
mkdirSync(join(root, 'bench/results'), { recursive: true });
const file = `bench/results/distributed-${date}${quick ? '-quick' : ''}.json`;
writeFileSync(join(root, file), JSON.stringify({ date, machine, quick, target: TARGET, results }, null, 2) + '\n');

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const rows = results.map(
  (r) =>
    `| ${r.name} | ${r.samplesPerSec.toFixed(0)} | ${(r.samplesPerSec / base).toFixed(2)}× | ${pct(r.exchangeShare)} | ${r.bytesPerStep === null ? '–' : (r.bytesPerStep / 1024).toFixed(1)} | ${r.secondsToTarget === null ? `not in ${r.epochs} epochs` : r.secondsToTarget.toFixed(0) + ' s'} | ${(r.testAccuracy * 100).toFixed(2)}% |`,
);
if (!quick) {
  const md = `# Distributed training benchmark

Measured ${date} by \`npx tsx bench/distributed/run.ts\` (raw numbers: [\`${file}\`](../${file})) on
${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, WASM backend. Every replica is a
real trainer process (\`services/trainer/src/main.ts\`) talking to the others through the local NATS server.
The job: ${ARCH} on MNIST, ${results[0]!.trainSamples} training samples per epoch (5,000 held out for validation),
global batch ${batchSize} (each of 2 replicas computes ${batchSize / 2}), Adam 0.003, seed 1.

| configuration | samples/s | vs 1 replica | exchange share of step time | bytes sent per step per replica (KiB) | to ${TARGET * 100}% validation accuracy | test accuracy |
|---|---|---|---|---|---|---|
${rows.join('\n')}

- **samples/s**: samples per epoch × epochs between the first and the last epoch end, over the time between
  them (from the events' timestamps), so group forming and start-up are left out and each configuration
  pays the same per-epoch validation and checkpoint.
- **exchange share**: on the coordinating replica, time from sending its gradient to receiving the mean
  (network, the coordinator's reduction, and waiting for the slower replica) over that plus compute.
- **bytes per step**: what the coordinating replica put on the wire per step (its gradient; the
  coordinator's broadcast of the mean is counted separately, it is the same size uncompressed, half with fp16;
  with the ring: its chunks, half a gradient in each of the two phases for two replicas, and no broadcast).
- **to ${TARGET * 100}%**: wall time from the job's start until the first epoch whose validation accuracy reached ${TARGET * 100}%.

Across hosts (three network namespaces, a three-server NATS cluster, links shaped with tbf; gradients
of 24 KiB to 4.8 MB): \`bench/distributed/exchange.ts\`, tables and projections to 8 and 32 replicas in
[distributed.md](distributed.md#exchange-across-hosts-measured).
`;
  writeFileSync(join(root, 'docs/benchmarks-distributed.md'), md);
}
console.log(rows.join('\n'));
process.exit(0);
