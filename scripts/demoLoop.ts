/**
 * `npm run demo -- --loop`: the continuous-training cycle on a running demo. A real Prometheus
 * scrapes every service; clean digits go through the gateway (no drift), then thickened ones
 * (drift, visible in Prometheus); labelled thickened digits arrive as new batches; the orchestrator
 * retrains because of the drift; the gate promotes or rejects the new version with its reason; the
 * gateway serves whatever the champion is now, without a restart. Prints a JSON summary last.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dilate, parseIdx, readSeedFile, rotate, writeIncomingBatch, PIXELS } from '@mlpipe/dataset';
import { createObjectStore } from '@mlpipe/storage';
import { storeKeys } from '@mlpipe/contracts';

export interface LoopContext {
  say: (line: string) => void;
  root: string;
  work: string;
  storeRoot: string;
  /** The watcher's DATA_PREFIX: where the labelled shifted batches are dropped. */
  dataPrefix: string;
  gatewayUrl: string;
  registryUrl: string;
  prometheusPort: number;
  scrapePorts: number[];
  champion: number;
  track: (child: ChildProcess) => void;
  /** The trigger the orchestrator recorded for a job (its kind and reason). */
  jobTrigger: (jobId: string) => Promise<{ kind: string; reason: string } | undefined>;
}

/** The shift the loop feeds: thicker strokes, tilted by 30°. */
const shift = (img: Uint8Array) => rotate(dilate(img), 30);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(1000);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function startPrometheus(c: LoopContext): { url: string; child: ChildProcess } {
  const binary = join(c.root, '.tools/bin/prometheus');
  if (!existsSync(binary)) throw new Error('no Prometheus in .tools/bin: run "bash deploy/scripts/install-tools.sh"');
  const dir = join(c.work, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const config = [
    'global:',
    '  scrape_interval: 2s',
    '  evaluation_interval: 2s',
    'rule_files:',
    `  - ${join(c.root, 'deploy/prometheus/rules/mlpipe.rules.yml')}`,
    'scrape_configs:',
    '  - job_name: mlpipe',
    '    static_configs:',
    `      - targets: [${c.scrapePorts.map((p) => `"127.0.0.1:${p}"`).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const child = spawn(binary, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${c.prometheusPort}`], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  c.track(child);
  return { url: `http://127.0.0.1:${c.prometheusPort}`, child };
}

/** One instant-vector query; the summed value, or undefined while Prometheus has nothing. */
async function promValue(url: string, query: string): Promise<number | undefined> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  if (!res.ok) return undefined;
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  if (!body.data.result.length) return undefined;
  return body.data.result.reduce((a, r) => a + Number(r.value[1]), 0);
}

interface Answer {
  predictionId: string;
  version: number;
  class: number;
}

async function predict(gatewayUrl: string, pixels: Uint8Array): Promise<Answer> {
  const res = await fetch(`${gatewayUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: Array.from(pixels), range: 'byte' }) });
  if (!res.ok) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Answer;
}

export async function runLoop(c: LoopContext): Promise<void> {
  const testImages = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
  const testLabels = parseIdx(readSeedFile('mnist', 't10k-labels-idx1-ubyte')).data;
  const trainImages = parseIdx(readSeedFile('mnist', 'train-images-idx3-ubyte')).data;
  const trainLabels = parseIdx(readSeedFile('mnist', 'train-labels-idx1-ubyte')).data;
  const at = (images: Uint8Array, i: number) => images.subarray(i * PIXELS, (i + 1) * PIXELS);

  const prometheus = startPrometheus(c);
  await until('Prometheus to be ready', 60_000, async () => ((await fetch(`${prometheus.url}/-/ready`)).ok ? true : undefined));
  c.say(`Prometheus scrapes every service every 2 s at ${prometheus.url}`);

  /** Sends digits through the gateway; the share it got right. */
  const stream = async (indices: number[], transform: (img: Uint8Array) => Uint8Array) => {
    let right = 0;
    let last: Answer | undefined;
    for (const i of indices) {
      last = await predict(c.gatewayUrl, transform(at(testImages, i)));
      if (last.class === testLabels[i]) right++;
    }
    return { accuracy: right / indices.length, last: last as Answer };
  };
  // Spread over the whole test split: its halves come from different groups of writers, and a window
  // of one half alone is a (moderate, real) shift from training data that mixes both.
  const clean = Array.from({ length: 200 }, (_, k) => k * 50);
  const drifted = Array.from({ length: 200 }, (_, k) => k * 50 + 25);

  c.say('serving the champion: 200 clean test digits through the gateway');
  const calm = await stream(clean, (x) => x);
  await until('a stable drift window in Prometheus', 120_000, () => promValue(prometheus.url, 'sum(mlpipe_drift_windows_total{verdict="stable"})'));
  c.say(`  v${calm.last.version} got ${(calm.accuracy * 100).toFixed(1)}% right; the drift monitor judged the window stable`);

  c.say('a drifted stream: 200 thickened digits tilted by 30°');
  const before = await stream(drifted, shift);
  const detected = await until('drift to show in Prometheus', 120_000, async () => {
    const v = await promValue(prometheus.url, 'sum(mlpipe_drift_detected_total)');
    return v && v > 0 ? v : undefined;
  });
  const inkPsi = await promValue(prometheus.url, 'max(mlpipe_drift_psi{test="ink_share"})');
  // The same alert rules as production (deploy/prometheus/rules): the drift alert fires.
  const alert = await until('the MlpipeDriftDetected alert to fire', 60_000, () => promValue(prometheus.url, 'ALERTS{alertname="MlpipeDriftDetected", alertstate="firing"}'));
  c.say(`  v${before.last.version} got ${(before.accuracy * 100).toFixed(1)}% right; Prometheus: mlpipe_drift_detected_total=${detected}, ink_share PSI=${inkPsi?.toFixed(2)}, alert MlpipeDriftDetected firing`);

  c.say('labelled shifted digits arrive: 1,000 test and 4,000 train samples as new batches');
  const store = createObjectStore({ kind: 'fs', root: c.storeRoot });
  const shifted = (images: Uint8Array, labels: Uint8Array, from: number, count: number) => {
    const out = new Uint8Array(count * PIXELS);
    for (let k = 0; k < count; k++) out.set(shift(at(images, from + k)), k * PIXELS);
    return { images: out, labels: labels.slice(from, from + count), count };
  };
  const note = 'thickened, tilted digits (demo loop)';
  // Test first: the gate then judges the new version and the champion on data that includes the shift.
  await writeIncomingBatch(store, storeKeys.incomingBatch(c.dataPrefix, 'thick-test'), { dataset: 'mnist', split: 'test', format: 'idx', set: shifted(testImages, testLabels, 5000, 1000), note });
  await sleep(4000);
  await writeIncomingBatch(store, storeKeys.incomingBatch(c.dataPrefix, 'thick-train'), { dataset: 'mnist', split: 'train', format: 'idx', set: shifted(trainImages, trainLabels, 40_000, 4000), note });

  const versions = async () => ((await (await fetch(`${c.registryUrl}/models/mnist`)).json()) as { versionList: { version: number; runId: string }[] }).versionList;
  const known = (await versions()).length;
  c.say('the orchestrator retrains because of the drift; waiting for the new version and the gate');
  const fresh = await until('a new model version', 30 * 60_000, async () => {
    const list = await versions();
    return list.length > known ? list[0] : undefined;
  });
  const audit = (await (await fetch(`${c.registryUrl}/audit?model=mnist&limit=20`)).json()) as { entries: { version: number; actor: string; action: string; decision: string; reason: string }[] };
  const gate = audit.entries.find((e) => e.version === fresh.version && e.actor === 'gate' && e.action === 'alias.set');
  c.say(`  v${fresh.version} registered; the gate made it ${gate?.decision}: ${gate?.reason}`);

  const champion = (await (await fetch(`${c.registryUrl}/models/mnist/aliases/champion`)).json()) as { version: number };
  const served = await until(`the gateway to serve v${champion.version}`, 30_000, async () => {
    const a = await predict(c.gatewayUrl, shift(at(testImages, 7)));
    return a.version === champion.version ? a : undefined;
  });
  const after = await stream(drifted, shift);
  // The gateway writes its samples every PREDICTION_FLUSH_MS: ask until the prediction is there.
  const lineage = await until('the lineage of the last prediction', 30_000, async () => {
    const res = await fetch(`${c.registryUrl}/lineage/predictions/${after.last.predictionId}`);
    return res.ok ? ((await res.json()) as { run: { runId: string; codeVersion: string; datasetVersion: string }; gate: { outcome: string; reason: string } | null }) : undefined;
  });
  const trigger = await c.jobTrigger(fresh.runId);
  c.say(`  v${fresh.version} was trained because: ${trigger?.kind} (${trigger?.reason ?? '?'})`);
  c.say(`  prediction ${after.last.predictionId} ← v${served.version} ← run ${lineage.run.runId} (code ${lineage.run.codeVersion}, data ${lineage.run.datasetVersion.slice(0, 12)})`);
  c.say(`  the gateway now serves v${served.version} (no restart): ${(after.accuracy * 100).toFixed(1)}% right on the shifted digits (was ${(before.accuracy * 100).toFixed(1)}%)`);

  const summary = {
    championBefore: c.champion,
    championAfter: champion.version,
    newVersion: fresh.version,
    gate: gate ? { outcome: gate.decision, reason: gate.reason } : null,
    driftDetectedInPrometheus: detected,
    driftAlertFiring: alert === 1,
    inkSharePsi: inkPsi ?? null,
    accuracyOnShifted: { before: before.accuracy, after: after.accuracy },
    servedVersion: served.version,
    lineage: lineage.run,
    trigger: trigger ?? null,
  };
  console.log(`LOOP_SUMMARY ${JSON.stringify(summary)}`);
}
