import { ARTEFACTS } from '@mlpipe/contracts';
import type { LoadResult } from './wrk';

/** One measured row: a setup at one concurrency. */
export interface Row extends LoadResult {
  setup: string;
  /** mlpipe; the Flask+PyTorch anchor; or the host's floor (bench/serve/nodeFloor.ts: bare node:http, no model). */
  system: 'mlpipe' | 'flask' | 'floor';
  transport: 'REST' | 'gRPC';
  /** Straight to a model replica (or the Flask server), or through the gateway edge. */
  path: 'direct' | 'edge';
  replicas: number;
  batching: 'on' | 'off' | 'n/a';
  /** GATEWAY_RUNTIME of the replicas: tfjs WASM, or onnxruntime-node with one intra-op thread. */
  runtime: 'tfjs' | 'onnx' | 'n/a';
  concurrency: number;
  loadGenerator: 'wrk' | 'grpcLoad' | 'fetch';
  /** From the replicas' metrics over the row: each request's mean wait for its model call, and images per call. */
  meanQueueMs?: number;
  meanBatchImages?: number;
}

export interface Goal {
  goal: string;
  measured: string;
  met: boolean | undefined;
}

export interface Machine {
  cpus: number;
  cpuModel: string | undefined;
  node: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  busy: boolean;
}

const RUNTIMES = ['tfjs', 'onnx'] as const;
const find = (rows: Row[], q: Partial<Row>) => rows.find((r) => Object.entries(q).every(([k, v]) => r[k as keyof Row] === v));
const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(2));

/** The gateway hop at a concurrency: p50 through the edge to one replica minus p50 straight to that replica (REST, batching on, one runtime). */
export function gatewayHop(rows: Row[], concurrency: number, runtime: Row['runtime'] = 'tfjs'): number | undefined {
  const direct = find(rows, { system: 'mlpipe', transport: 'REST', path: 'direct', batching: 'on', runtime, concurrency });
  const edge = find(rows, { system: 'mlpipe', transport: 'REST', path: 'edge', replicas: 1, batching: 'on', runtime, concurrency });
  return direct && edge ? edge.p50Ms - direct.p50Ms : undefined;
}

/** Throughput over the Flask anchor's at the same concurrency. */
export function ratioToFlask(rows: Row[], r: Row): number | undefined {
  const flask = find(rows, { system: 'flask', concurrency: r.concurrency });
  return flask && flask.requestsPerSec > 0 ? r.requestsPerSec / flask.requestsPerSec : undefined;
}

/** The issue's three goals, each judged on the rows that measure it. */
export function judgeGoals(rows: Row[]): Goal[] {
  const at32 = rows.filter((r) => r.system === 'mlpipe' && r.concurrency === 32 && r.errors === 0);
  const scored = at32.map((r) => ({ r, ratio: ratioToFlask(rows, r) })).filter((x): x is { r: Row; ratio: number } => x.ratio !== undefined);
  const meeting = scored.filter((x) => x.ratio >= 3 && x.r.p99Ms <= 20).sort((a, b) => b.ratio - a.ratio);
  const best = [...scored].sort((a, b) => b.ratio - a.ratio)[0];
  const describe = (x: { r: Row; ratio: number }) => `${x.r.setup}: ${x.ratio.toFixed(2)}× Flask, p99 ${ms(x.r.p99Ms)} ms`;
  const throughput: Goal = {
    goal: 'concurrency 32: ≥ 3× the Flask+PyTorch anchor\'s requests/s with p99 ≤ 20 ms',
    measured: !scored.length ? 'no Flask anchor measured' : meeting.length ? `met by ${meeting.map(describe).join('; ')}` : `best ${describe(best!)}`,
    met: scored.length ? meeting.length > 0 : undefined,
  };
  // Per runtime: met when either runtime meets it (the operator picks GATEWAY_RUNTIME).
  const ones = RUNTIMES.map((runtime) => find(rows, { system: 'mlpipe', transport: 'REST', path: 'edge', replicas: 1, batching: 'on', runtime, concurrency: 1 })).filter((r): r is Row => !!r);
  const c1: Goal = {
    goal: 'concurrency 1: p99 ≤ 2 ms through one replica (REST, edge → 1 replica, batching on)',
    measured: ones.length ? `${ones.map((r) => `${r.runtime} p99 ${ms(r.p99Ms)} ms`).join('; ')}${c1Context(rows)}` : 'not measured',
    met: ones.length ? ones.some((r) => r.p99Ms <= 2) : undefined,
  };
  const hops = RUNTIMES.map((runtime) => ({ runtime, hop: gatewayHop(rows, 1, runtime) })).filter((h): h is { runtime: 'tfjs' | 'onnx'; hop: number } => h.hop !== undefined);
  const hopGoal: Goal = {
    goal: 'gateway hop ≤ 1 ms at p50 (concurrency 1)',
    measured: hops.length ? hops.map((h) => `${h.runtime} ${h.hop.toFixed(2)} ms`).join('; ') : 'not measured',
    met: hops.length ? hops.some((h) => h.hop <= 1) : undefined,
  };
  return [throughput, c1, hopGoal];
}

/** What the concurrency-1 tail is measured against: the same at one replica directly, and the host's floor. */
function c1Context(rows: Row[]): string {
  const direct = RUNTIMES.map((runtime) => find(rows, { system: 'mlpipe', transport: 'REST', path: 'direct', batching: 'on', runtime, concurrency: 1 })).filter((r): r is Row => !!r);
  const floors = (['direct', 'edge'] as const).map((path) => find(rows, { system: 'floor', path, concurrency: 1 })).filter((r): r is Row => !!r);
  const parts = [
    ...(direct.length ? [`replica directly: ${direct.map((r) => `${r.runtime} p99 ${ms(r.p99Ms)} ms`).join(', ')}`] : []),
    ...(floors.length ? [`the host's floor (no model, no framework): ${floors.map((r) => `${r.setup.replace('Node http floor: ', '')} p99 ${ms(r.p99Ms)} ms`).join(', ')}`] : []),
  ];
  return parts.length ? ` (${parts.join('; ')})` : '';
}

export function renderDoc(o: { date: string; file: string; seconds: number; machine: Machine; rows: Row[]; goals: Goal[]; notes: string[]; tools: Record<string, string> }): string {
  const { machine: m, rows } = o;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const verdict = (g: Goal) => (g.met === undefined ? 'not measured' : g.met ? '**met**' : '**missed**');
  const ratio = (r: Row) => (r.system === 'flask' ? '1.00 (anchor)' : (ratioToFlask(rows, r)?.toFixed(2) ?? '—'));
  const hop = (c: number, runtime: 'tfjs' | 'onnx') => {
    const h = gatewayHop(rows, c, runtime);
    return h === undefined ? '—' : `${h.toFixed(2)} ms`;
  };
  return `# Serving benchmark

Produced by \`npx tsx bench/serve/run.ts\` on ${o.date.slice(0, 10)} (${m.cpus} cores, ${m.cpuModel ?? '?'}, Node ${m.node}); raw numbers in [\`bench/results/${o.file}\`](../bench/results/${o.file}).

**Machine load:** 1-minute load average ${m.loadAverageAtStart[0]?.toFixed(2)} at the start (1/5/15 min: ${load(m.loadAverageAtStart)}), ${m.loadAverageAtEnd[0]?.toFixed(2)} at the end, on ${m.cpus} cores. ${
    m.busy
      ? `**The machine was busy**: other engineers' tests were running on the same ${m.cpus} cores, so every number below carries their contention and varies from run to run; read the ratios, not the last digit.`
      : 'The machine was otherwise quiet.'
  }

What was measured, in one run: \`POST /predict\` with one 28×28 MNIST image as JSON (784 pixels, \`range: byte\`, the same body every request), model \`cnn-small\`, closed-loop clients for ${o.seconds} s per row after a warm-up (1 s at concurrency 4, then 2 s at 1). REST rows are driven by \`wrk\` (${o.tools.wrk ?? '?'}), gRPC rows by \`bench/serve/grpcLoad.ts\` (a \`@grpc/grpc-js\` client in the bench's own Node process, so a gRPC row also carries a JavaScript client's cost, which wrk's C client does not: compare gRPC rows with each other, not 1:1 with REST). Replicas run with \`GATEWAY_RUNTIME=tfjs\` (tfjs on its WASM backend), batching on and off, and with \`GATEWAY_RUNTIME=onnx\` (the version's verified \`${ARTEFACTS.onnx.file}\` in onnxruntime-node, one intra-op thread; what \`auto\` picks where it loads), batching on; before each row the bench checks in the replicas' \`mlpipe_model_runtime\` that the runtime it names is the one serving. Dynamic batching on (the default: at most 32 images per call, \`GATEWAY_BATCH_MAX_DELAY_MS\` 1 ms, a batch aiming at the last batch's size) and off (\`GATEWAY_BATCHING=off\`). The Flask anchor: the same net in PyTorch (${o.tools.flaskTorchGunicorn ?? '?'}) behind Flask under gunicorn with one sync worker (\`bench/serve/flask_app.py\`), the seeds' design as the issue compared it. The host's floor (\`bench/serve/nodeFloor.ts\`): a bare \`node:http\` server that parses the same body and answers a fixed reply, and a bare proxy in front of it, no framework and no model, to show how much of a row's tail this machine gives by itself. The load generator, the edge, the replicas and the anchor share the ${m.cpus} cores, so rows with more processes also carry more contention.

| setup | runtime | concurrency | requests/s | × Flask | p50 (ms) | p99 (ms) | errors | wait for model call (ms, mean) | images per call |
|---|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.setup} | ${r.runtime} | ${r.concurrency} | ${r.requestsPerSec.toFixed(0)} | ${ratio(r)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${r.errors} | ${r.meanQueueMs === undefined ? '—' : r.meanQueueMs.toFixed(3)} | ${r.meanBatchImages === undefined ? '—' : r.meanBatchImages.toFixed(1)} |`).join('\n')}

The last two columns come from the replicas' own metrics over the row (\`mlpipe_inference_queue_seconds\`, \`mlpipe_inference_batch_size\`): what the batcher added to each request before its model call, and how many images each call carried.

Gateway hop (p50 through the edge to one replica minus p50 straight to that replica, REST, batching on): tfjs ${hop(1, 'tfjs')} at concurrency 1, ${hop(8, 'tfjs')} at 8, ${hop(32, 'tfjs')} at 32; onnx ${hop(1, 'onnx')}, ${hop(8, 'onnx')}, ${hop(32, 'onnx')}.

## Goals (from issue 14)

| goal | measured | verdict |
|---|---|---|
${o.goals.map((g) => `| ${g.goal} | ${g.measured} | ${verdict(g)} |`).join('\n')}
${o.notes.length ? `\n## Notes\n\n${o.notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
}
