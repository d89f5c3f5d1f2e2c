/**
 * Serving benchmark: requests/s and latency percentiles through the gateway edge with 1 and 2 model
 * replicas, and straight to a replica (the cost of the gateway hop), at concurrency 1, 8 and 32,
 * each with dynamic batching on (the default) and off (GATEWAY_BATCHING=off).
 * Everything runs on this machine: registry in this process; replicas and edge as separate processes.
 * Usage: npx tsx bench/serve/run.ts [--seconds 5]   (writes bench/results/serve-<date>.json and docs/benchmarks-serve.md)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { eventually } from '@mlpipe/common';
import { freePort } from '@mlpipe/runtime';
import { createModel, initBackend, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { startLiveRegistry } from '@mlpipe/testing';
import { startRegistry } from '@mlpipe/registry/service';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const SECONDS = Number(values.seconds);
const root = resolve(import.meta.dirname, '../..');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const bodies = Array.from({ length: 64 }, (_, i) => JSON.stringify({ pixels: Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS)), range: 'byte' }));

async function startGatewayProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/gateway/src/main.ts')], {
    cwd: root,
    env: { ...process.env, ...env, HTTP_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 60_000, `gateway on ${port}`);
  return { url, child };
}

/** A closed loop: `concurrency` clients each send the next request as soon as the last answer arrives. */
async function load(url: string, concurrency: number) {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      for (let i = c; performance.now() < end; i += concurrency) {
        const t0 = performance.now();
        const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i % bodies.length] ?? '' });
        await res.arrayBuffer();
        if (res.ok) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { requestsPerSec: latencies.length / SECONDS, p50Ms: q(0.5), p99Ms: q(0.99), errors, requests: latencies.length };
}

async function main(): Promise<void> {
  await initBackend('wasm');
  const live = await startLiveRegistry(startRegistry);
  await live.publishModel('bench', createModel('cnn-small', { seed: 1 }), { accuracy: 0.1 }); // weights do not change the cost
  await live.waitForChampion();

  const env = { BUS_NAMESPACE: live.bus.namespace, REGISTRY_URL: live.url };
  const processes: { url: string; child: ChildProcess }[] = [];
  const setups: { setup: string; url: string; replicas: number; batching: 'on' | 'off' }[] = [];
  for (const batching of ['on', 'off'] as const) {
    const replicaEnv = { ...env, GATEWAY_BATCHING: batching };
    const r1 = await startGatewayProcess(replicaEnv);
    const r2 = await startGatewayProcess(replicaEnv);
    const edge1 = await startGatewayProcess({ ...env, MODEL_REPLICAS: r1.url });
    const edge2 = await startGatewayProcess({ ...env, MODEL_REPLICAS: `${r1.url},${r2.url}` });
    processes.push(r1, r2, edge1, edge2);
    setups.push(
      { setup: `replica directly (no gateway), batching ${batching}`, url: r1.url, replicas: 1, batching },
      { setup: `gateway → 1 replica, batching ${batching}`, url: edge1.url, replicas: 1, batching },
      { setup: `gateway → 2 replicas, batching ${batching}`, url: edge2.url, replicas: 2, batching },
    );
  }
  const results: ({ setup: string; url: string; replicas: number; batching: 'on' | 'off'; concurrency: number } & Awaited<ReturnType<typeof load>>)[] = [];
  for (const s of setups) {
    await load(s.url, 4); // warm-up: models loaded, connections open
    for (const concurrency of [1, 8, 32]) {
      const r = await load(s.url, concurrency);
      results.push({ ...s, concurrency, ...r });
      console.log(`${s.setup}, concurrency ${concurrency}: ${r.requestsPerSec.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`);
    }
  }
  for (const p of processes) p.child.kill('SIGTERM');
  await live.close();

  const date = new Date().toISOString();
  const file = `serve-${date.slice(0, 10)}.json`;
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results', file), `${JSON.stringify({ date, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version }, seconds: SECONDS, results }, null, 2)}\n`);
  const hop = (c: number) => {
    const direct = results.find((r) => r.batching === 'on' && r.replicas === 1 && r.setup.startsWith('replica') && r.concurrency === c)!;
    const via = results.find((r) => r.batching === 'on' && r.setup.startsWith('gateway → 1 replica') && r.concurrency === c)!;
    return (via.p50Ms - direct.p50Ms).toFixed(2);
  };
  const batchGain = () => {
    const at = (b: 'on' | 'off') => results.find((r) => r.batching === b && r.setup.startsWith('replica') && r.concurrency === 32)!;
    return `${at('on').requestsPerSec.toFixed(0)} req/s and p99 ${at('on').p99Ms.toFixed(2)} ms with it, ${at('off').requestsPerSec.toFixed(0)} req/s and p99 ${at('off').p99Ms.toFixed(2)} ms without`;
  };
  const doc = `# Serving benchmark

Produced by \`npx tsx bench/serve/run.ts\` on ${date.slice(0, 10)} (${cpus().length} cores, ${cpus()[0]?.model}, Node ${process.version}); raw numbers in [\`bench/results/${file}\`](../bench/results/${file}).

\`POST /predict\` with a 28×28 MNIST array, model \`cnn-small\`, WASM backend, closed-loop clients for ${SECONDS} s per row; replicas with dynamic batching on (the default: at most 32 images per model call, 1 ms delay) and off (\`GATEWAY_BATCHING=off\`, one model call per request). The load generator, the gateway edge and the replicas all share this machine's ${cpus().length} cores, so rows with more processes also carry more contention.

| setup | concurrency | requests/s | p50 (ms) | p99 (ms) | errors |
|---|---|---|---|---|---|
${results.map((r) => `| ${r.setup} | ${r.concurrency} | ${r.requestsPerSec.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.errors} |`).join('\n')}

Gateway hop (p50 through the edge minus p50 straight to the same replica, batching on): ${hop(1)} ms at concurrency 1, ${hop(8)} ms at 8.
Batching at concurrency 32, one replica directly: ${batchGain()}.
Goals from the issue: p99 ≤ 20 ms at concurrency 8 with 2 replicas, gateway hop ≤ 2 ms at p50.
`;
  writeFileSync(join(root, 'docs/benchmarks-serve.md'), doc);
  console.log(doc);
  process.exit(0);
}

await main();
