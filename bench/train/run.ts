/**
 * Training benchmark, in one invocation: every tfjs backend × architecture (tfjsEntry.ts) and the
 * same nets in PyTorch on 1 and 2 threads (torch_bench.py; python3-torch installed with apt-get if
 * missing, or skipped with the reason printed). Each entry runs in its own process. Reports
 * samples/s, time to 98.5 / 99.0 / 99.4% test accuracy and peak RSS, with ours / PyTorch ratios.
 *
 * Usage: npx tsx bench/train/run.ts [--quick] [--seconds N] [--archs a,b] [--backends wasm,cpu] [--threads 1,2] [--no-torch]
 *        npx tsx bench/train/run.ts --render bench/results/train-<date>.json   (docs from an existing result)
 * Writes bench/results/train-<date>.json and docs/benchmarks-train.md. --quick (a few seconds per
 * entry, a smoke test) writes train-<date>-quick.json and leaves the docs alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_ARCHS } from '@mlpipe/ml';
import { runEntry } from './child';
import { renderMarkdown } from './markdown';
import { RECIPE, TARGETS } from './recipe';
import { compare, compareDistributed } from './report';
import { TrainReportSchema, type EntryResult, type TorchStatus, type TrainReport } from './result';
import { ensureTorch, PYTHON } from './torch';

const root = resolve(import.meta.dirname, '../..');
const here = import.meta.dirname;
const resultsDir = join(root, 'bench/results');
const docFile = join(root, 'docs/benchmarks-train.md');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    archs: { type: 'string', default: MODEL_ARCHS.join(',') },
    backends: { type: 'string', default: 'wasm,cpu' },
    threads: { type: 'string', default: '1,2' },
    'no-torch': { type: 'boolean', default: false },
    render: { type: 'string' },
  },
});
const list = (s: string) => s.split(',').filter((x) => x.length > 0);

/** Training-time cap per entry, by who runs it: the CPU backend only gets long enough for throughput. */
function caps(): Record<string, number> {
  if (values.seconds !== undefined) {
    const s = Number(values.seconds);
    // The CPU backend runs at tens of samples/s: more time adds nothing to its throughput figure.
    return { wasm: s, cpu: Math.min(s, 30), pytorch: s };
  }
  return values.quick ? { wasm: 5, cpu: 5, pytorch: 5 } : { wasm: 300, cpu: 30, pytorch: 300 };
}

function torchArchs(): string[] {
  const r = spawnSync(PYTHON, [join(here, 'torch_bench.py'), '--list-archs'], { encoding: 'utf8' });
  return r.status === 0 ? (JSON.parse(r.stdout) as string[]) : [];
}

async function runAll(cap: Record<string, number>, torch: TorchStatus, skipped: string[]): Promise<EntryResult[]> {
  const archs = list(values.archs);
  const targets = TARGETS.join(',');
  const results: EntryResult[] = [];
  const run = async (label: string, command: string, args: string[]) => {
    console.log(`${label}…`);
    try {
      results.push(await runEntry(label, command, args, root));
    } catch (err) {
      // One broken entry should not cost the rest of a long run; it is listed in the report.
      console.error(`${label} failed: ${(err as Error).message}`);
      skipped.push(`${label} (failed: ${(err as Error).message.split('\n')[0]})`);
    }
  };
  for (const backend of list(values.backends))
    for (const arch of archs)
      await run(`tfjs ${backend} ${arch}`, process.execPath, ['--import', 'tsx', join(here, 'tfjsEntry.ts'), '--backend', backend, '--arch', arch, '--max-seconds', String(cap[backend] ?? cap.wasm), '--targets', targets]);
  if (!torch.available) return results;
  const mirrored = torchArchs();
  for (const arch of archs) {
    if (!mirrored.includes(arch)) {
      skipped.push(`PyTorch ${arch} (not in torch_bench.py's ARCHS: add a line mirroring models.ts)`);
      continue;
    }
    for (const threads of list(values.threads))
      await run(`PyTorch ${arch} ${threads} thread(s)`, PYTHON, [join(here, 'torch_bench.py'), '--arch', arch, '--threads', threads, '--max-seconds', String(cap.pytorch), '--targets', targets]);
  }
  return results;
}

function tfjsVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules/@tensorflow/tfjs/package.json'), 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  if (values.render !== undefined) {
    const stored = TrainReportSchema.parse(JSON.parse(readFileSync(resolve(values.render), 'utf8')));
    // The distributed run may be newer than the training run: pair them again, and keep that in the file.
    const report = { ...stored, distributed: compareDistributed(resultsDir, stored.results) };
    writeFileSync(resolve(values.render), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(docFile, renderMarkdown(report, basename(values.render)));
    console.log(`rendered ${docFile} from ${values.render}`);
    return;
  }
  const cap = caps();
  const loadAverage = loadavg()[0] ?? 0;
  const skipped: string[] = [];
  const torch: TorchStatus = values['no-torch'] ? { available: false, reason: 'run with --no-torch' } : ensureTorch((l) => console.log(l));
  if (!torch.available) console.log(`PyTorch skipped: ${torch.reason}`);
  const results = await runAll(cap, torch, skipped);
  const date = new Date().toISOString();
  const report: TrainReport = {
    date,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage },
    tfjs: tfjsVersion(),
    pytorch: torch,
    settings: { ...RECIPE, targets: [...TARGETS], capSeconds: cap, quick: values.quick === true },
    results,
    comparisons: compare(results, TARGETS),
    distributed: compareDistributed(resultsDir, results),
    skipped,
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = `train-${date.slice(0, 10)}${values.quick ? '-quick' : ''}.json`;
  writeFileSync(join(resultsDir, file), `${JSON.stringify(report, null, 2)}\n`);
  const doc = renderMarkdown(report, file);
  if (!values.quick) writeFileSync(docFile, doc);
  console.log(doc);
  console.log(`results in bench/results/${file}${values.quick ? ' (quick run: docs/benchmarks-train.md left as it was)' : ', docs/benchmarks-train.md refreshed'}`);
}

await main();
