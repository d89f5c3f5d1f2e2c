/**
 * Serving benchmark, in ONE run: mlpipe REST and gRPC, dynamic batching on and off, straight to a
 * model replica and through the gateway edge to 1 and 2 replicas, each replica runtime
 * (GATEWAY_RUNTIME=tfjs: tfjs WASM; onnx: onnxruntime-node, one thread), and the same net in
 * Flask+PyTorch under gunicorn (the anchor), each at concurrency 1, 8 and 32: requests/s, p50, p99,
 * the gateway hop, and the goals judged. Everything runs on this machine: the registry in
 * this process; replicas, edges and gunicorn as separate processes; wrk (REST) and grpcLoad (gRPC)
 * as the load generators. Records the 1-minute load average, since the machine is shared.
 * Usage: npx tsx bench/serve/run.ts [--seconds 5]   (writes bench/results/serve-<date>.json and docs/benchmarks-serve.md)
 * Needs: wrk, and for the anchor /usr/bin/python3 with Debian's python3-flask, python3-torch, gunicorn
 * (apt-get install wrk python3-flask python3-torch gunicorn); without them those rows are skipped, said in one line.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createModel, exportOnnx, imagesToTensor, initBackend, ONNX_OPSET, ONNX_TOLERANCE, PIXELS, verifyOnnx } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry } from '@mlpipe/testing';
import { startRegistry } from '@mlpipe/registry/service';
import { missingAnchorTools, startFlask, startGateway, startNodeFloor, versions, type Served } from './processes';
import { judgeGoals, renderDoc, type Machine, type Row } from './report';
import { percentile } from './stats';
import { batchStats, batchTotals } from './replicaMetrics';
import { postScript, wrkLoad, type LoadResult } from './wrk';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const SECONDS = Number(values.seconds);
const CONCURRENCY = [1, 8, 32] as const;
/** What startLiveRegistry's publishModel registers (the gateway's default model, which REST /predict gets without naming one). */
const MODEL = 'mnist';
const root = resolve(import.meta.dirname, '../..');
const testImages = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const pixels = Array.from(testImages.subarray(0, PIXELS));
const body = JSON.stringify({ pixels, range: 'byte' });

/** bench/serve/grpcLoad.ts's contract (another engineer's file, loaded only when it is in the tree). */
type GrpcLoad = (o: { address: string; model: string; concurrency: number; durationMs: number; pixels: number[]; raw?: boolean }) => Promise<{ requests: number; errors: number; latenciesMs: number[] }>;

async function loadGrpcClient(): Promise<GrpcLoad | undefined> {
  const file = join(import.meta.dirname, 'grpcLoad.ts');
  if (!existsSync(file)) return undefined;
  return ((await import(pathToFileURL(file).href)) as { grpcLoad: GrpcLoad }).grpcLoad;
}

async function grpcRow(grpcLoad: GrpcLoad, address: string, concurrency: number, seconds: number): Promise<LoadResult> {
  const r = await grpcLoad({ address, model: MODEL, concurrency, durationMs: seconds * 1000, pixels, raw: true });
  const sorted = [...r.latenciesMs].sort((a, b) => a - b);
  return { requestsPerSec: sorted.length / seconds, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), errors: r.errors, requests: sorted.length };
}

/** The Node closed loop, for REST when wrk is missing (its client costs more than wrk's). */
async function fetchLoad(url: string, concurrency: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => undefined);
        await res?.arrayBuffer();
        if (res?.ok) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { requestsPerSec: latencies.length / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), errors, requests: latencies.length };
}

/** Registers the benchmark's model with its verified model.onnx, as a trainer does (so an onnx replica serves it with onnxruntime-node). */
async function publishWithOnnx(live: Awaited<ReturnType<typeof startLiveRegistry>>): Promise<void> {
  const model = createModel('cnn-small', { seed: 1 }); // weights do not change the cost
  const bytes = exportOnnx(model);
  const sample = imagesToTensor(testImages, 32);
  const verdict = await verifyOnnx(bytes, model, sample);
  sample.dispose();
  if (!verdict.verified) throw new Error(`the bench model's ONNX export did not verify: ${verdict.reason}`);
  await live.publishModel('job-bench', model, { accuracy: 0.1 }, { bytes, verdict: { status: 'verified', maxAbsDiff: verdict.maxAbsDiff, tolerance: ONNX_TOLERANCE, samples: verdict.samples, opset: ONNX_OPSET } });
  model.dispose();
}

/** Which runtimes the replicas report serving the model with (mlpipe_model_runtime), to check a row measured what it says. */
async function servedRuntimes(replicaUrls: string[]): Promise<string[]> {
  const texts = await Promise.all(replicaUrls.map((u) => fetch(`${u}/metrics`).then((r) => r.text(), () => '')));
  return [...new Set(texts.flatMap((t) => [...t.matchAll(/^mlpipe_model_runtime\{[^}]*runtime="(\w+)"[^}]*\} 1$/gm)].map((m) => m[1]!)))];
}

interface Setup extends Omit<Row, keyof LoadResult | 'concurrency' | 'meanQueueMs' | 'meanBatchImages'> {
  measure: (concurrency: number, seconds: number) => Promise<LoadResult>;
  /** The model replicas that answer it, whose batchers' metrics are read around each row. */
  replicaUrls: string[];
}

async function main(): Promise<void> {
  const loadAverageAtStart = loadavg();
  const notes: string[] = [];
  const missing = await missingAnchorTools();
  const hasWrk = !missing.includes('wrk');
  const hasFlask = missing.length === 0;
  if (!hasWrk) notes.push('wrk is not installed: REST rows used the Node fetch loop instead (slower client), and the Flask anchor was skipped (apt-get install wrk).');
  if (!hasFlask && hasWrk) notes.push(`Flask+PyTorch anchor skipped: ${missing.join(', ')} missing (apt-get install python3-flask python3-torch gunicorn).`);
  const grpcLoad = await loadGrpcClient();
  if (!grpcLoad) notes.push('gRPC rows skipped: bench/serve/grpcLoad.ts (the gRPC load client) is not in the tree yet.');
  for (const n of notes) console.log(`[bench] ${n}`);

  await initBackend('wasm');
  const live = await startLiveRegistry(startRegistry);
  await publishWithOnnx(live);
  await live.waitForChampion();
  const env = { BUS_NAMESPACE: live.bus.namespace, REGISTRY_URL: live.url };
  const processes: Served[] = [];
  const script = hasWrk ? postScript(body) : '';
  const rest = (url: string) => (c: number, s: number) => (hasWrk ? wrkLoad(`${url}/predict`, script, c, s) : fetchLoad(`${url}/predict`, c, s));
  const loadGenerator = hasWrk ? 'wrk' : 'fetch';
  const setups: Setup[] = [];

  if (hasFlask) {
    const flask = await startFlask(root);
    processes.push(flask);
    setups.push({ setup: 'Flask+PyTorch, gunicorn 1 worker (anchor)', system: 'flask', transport: 'REST', path: 'direct', replicas: 1, batching: 'n/a', runtime: 'n/a', loadGenerator, measure: rest(flask.url), replicaUrls: [] });
  }
  // The host's floor: what a bare Node server, and a bare proxy in front of it, give on these cores.
  const floor = await startNodeFloor(root);
  const floorProxy = await startNodeFloor(root, floor.url);
  processes.push(floor, floorProxy);
  const floorBase = { system: 'floor', transport: 'REST', replicas: 1, batching: 'n/a', runtime: 'n/a', loadGenerator } as const;
  setups.push(
    { ...floorBase, setup: 'Node http floor: bare server', path: 'direct', measure: rest(floor.url), replicaUrls: [] },
    { ...floorBase, setup: 'Node http floor: bare proxy → bare server', path: 'edge', measure: rest(floorProxy.url), replicaUrls: [] },
  );
  // tfjs with batching on and off (the earlier runs' rows), and onnx with batching on (its default).
  for (const [runtime, batching] of [['tfjs', 'on'], ['tfjs', 'off'], ['onnx', 'on']] as const) {
    const replicaEnv = { ...env, GATEWAY_BATCHING: batching, GATEWAY_RUNTIME: runtime };
    const r1 = await startGateway(root, replicaEnv, !!grpcLoad);
    const r2 = await startGateway(root, replicaEnv, !!grpcLoad);
    // The edge's gRPC forwards to each replica's own gRPC port (MODEL_REPLICAS_GRPC, in MODEL_REPLICAS order).
    const grpcOf = (...rs: Served[]) => (grpcLoad ? { MODEL_REPLICAS_GRPC: rs.map((r) => r.grpc).join(',') } : {});
    const edge1 = await startGateway(root, { ...env, MODEL_REPLICAS: r1.url, ...grpcOf(r1) }, !!grpcLoad);
    const edge2 = await startGateway(root, { ...env, MODEL_REPLICAS: `${r1.url},${r2.url}`, ...grpcOf(r1, r2) }, !!grpcLoad);
    processes.push(r1, r2, edge1, edge2);
    const base = { system: 'mlpipe', batching, runtime, loadGenerator } as const;
    const named = (what: string) => `${what}, ${runtime}, batching ${batching}`;
    setups.push(
      { ...base, setup: named('REST, replica directly'), transport: 'REST', path: 'direct', replicas: 1, measure: rest(r1.url), replicaUrls: [r1.url] },
      { ...base, setup: named('REST, edge → 1 replica'), transport: 'REST', path: 'edge', replicas: 1, measure: rest(edge1.url), replicaUrls: [r1.url] },
      { ...base, setup: named('REST, edge → 2 replicas'), transport: 'REST', path: 'edge', replicas: 2, measure: rest(edge2.url), replicaUrls: [r1.url, r2.url] },
    );
    if (grpcLoad) {
      const g = (address: string) => (c: number, s: number) => grpcRow(grpcLoad, address, c, s);
      const grpcBase = { ...base, transport: 'gRPC', loadGenerator: 'grpcLoad' } as const;
      setups.push({ ...grpcBase, setup: named('gRPC, replica directly'), path: 'direct', replicas: 1, measure: g(r1.grpc!), replicaUrls: [r1.url] });
      // The edge's gRPC, where it serves one: probed first, skipped (and said) when it answers nothing.
      for (const [edge, replicas] of [[edge1, 1], [edge2, 2]] as const) {
        const probe = await grpcRow(grpcLoad, edge.grpc!, 1, 0.5).catch(() => undefined);
        const replicaUrls = replicas === 1 ? [r1.url] : [r1.url, r2.url];
        if (probe && probe.requests > 0) setups.push({ ...grpcBase, setup: named(`gRPC, edge → ${replicas} replica${replicas > 1 ? 's' : ''}`), path: 'edge', replicas, measure: g(edge.grpc!), replicaUrls });
        else if (batching === 'on' && runtime === 'tfjs' && replicas === 1) notes.push('gRPC through the edge skipped: the edge answered no gRPC request on GATEWAY_GRPC_PORT (gRPC rows are replica-direct only).');
      }
    }
  }

  const rows: Row[] = [];
  try {
    for (const { measure, replicaUrls, ...s } of setups) {
      // Warm-up: models loaded, connections open, code paths compiled; then a while at concurrency 1,
      // since a replica's first seconds of single requests still show a tail of 10-60 ms.
      await measure(4, 1);
      await measure(1, 2);
      if (s.runtime !== 'n/a') {
        const served = await servedRuntimes(replicaUrls);
        if (served.join() !== s.runtime) throw new Error(`${s.setup}: the replicas serve the model with [${served.join(', ')}], not ${s.runtime}`);
      }
      for (const concurrency of CONCURRENCY) {
        const before = await batchTotals(replicaUrls);
        const r = await measure(concurrency, SECONDS);
        const stats = replicaUrls.length ? batchStats(before, await batchTotals(replicaUrls)) : {};
        rows.push({ ...s, concurrency, ...r, ...stats });
        console.log(`${s.setup}, concurrency ${concurrency}: ${r.requestsPerSec.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`);
      }
    }
  } finally {
    for (const p of processes) p.child.kill('SIGTERM');
    await live.close();
  }

  const date = new Date().toISOString();
  // A second run on the same day gets the time too: an earlier day's file the docs cite is not overwritten.
  const daily = `serve-${date.slice(0, 10)}.json`;
  const file = existsSync(join(root, 'bench/results', daily)) ? `serve-${date.slice(0, 10)}-${date.slice(11, 16).replace(':', '')}.json` : daily;
  const machine: Machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    node: process.version,
    loadAverageAtStart,
    loadAverageAtEnd: loadavg(),
    // Half the cores busy before the bench started: someone else was using the machine.
    busy: (loadAverageAtStart[0] ?? 0) > cpus().length / 2,
  };
  const goals = judgeGoals(rows);
  const tools = await versions();
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results', file), `${JSON.stringify({ date, machine, tools, seconds: SECONDS, notes, goals, results: rows }, null, 2)}\n`);
  const doc = renderDoc({ date, file, seconds: SECONDS, machine, rows, goals, notes, tools });
  writeFileSync(join(root, 'docs/benchmarks-serve.md'), doc);
  console.log(doc);
  process.exit(0);
}

await main();
