import { targetKey, type EntryResult, type TrainReport } from './result';

const pct = (t: number) => `${(t * 100).toFixed(1)}%`;
const num = (n: number) => Math.round(n).toLocaleString('en');
const times = (r: number | null) => (r === null ? '–' : `${r < 0.1 ? r.toPrecision(2) : r.toFixed(2)}×`);

function who(r: EntryResult): string {
  return r.framework === 'pytorch' ? `PyTorch ${r.version}, ${r.threads} thread${r.threads > 1 ? 's' : ''}` : `tfjs ${r.backend}`;
}

function timeTo(r: EntryResult, target: number): string {
  if (r.bestTestAccuracy === null) return 'not measured';
  const s = r.secondsToTarget[targetKey(target)];
  return s == null ? `not within ${num(r.capSeconds)} s` : `${s.toFixed(1)} s`;
}

function best(r: EntryResult): string {
  if (r.bestTestAccuracy === null) return 'not measured';
  return r.evaluations === 0 ? 'no evaluation within the cap' : `${(r.bestTestAccuracy * 100).toFixed(2)}%`;
}

function resultRows(report: TrainReport): string[] {
  const { targets } = report.settings;
  const head = `| who | architecture | parameters | samples/s | ${targets.map((t) => `time to ${pct(t)}`).join(' | ')} | best test accuracy | peak RSS |`;
  const rule = `|${' --- |'.repeat(6 + targets.length)}`;
  const rows = report.results.map(
    (r) =>
      `| ${who(r)} | ${r.arch} | ${num(r.params)} | ${num(r.samplesPerSec)} | ${targets.map((t) => timeTo(r, t)).join(' | ')} | ${best(r)} | ${num(r.peakRssMiB)} MiB |`,
  );
  return [head, rule, ...rows];
}

function ratioRows(report: TrainReport): string[] {
  const { targets } = report.settings;
  if (report.comparisons.length === 0) return ['No PyTorch results in this run, so no ratios.'];
  const head = `| tfjs backend | architecture | samples/s, ours / PyTorch | ${targets.map((t) => `time to ${pct(t)}, ours / PyTorch`).join(' | ')} | peak RSS, ours / PyTorch |`;
  const rule = `|${' --- |'.repeat(4 + targets.length)}`;
  const rows = report.comparisons.map(
    (c) => `| ${c.backend} | ${c.arch} | ${times(c.samplesPerSec)} | ${targets.map((t) => times(c.secondsToTarget[targetKey(t)] ?? null)).join(' | ')} | ${times(c.peakRss)} |`,
  );
  const drifted = [...new Set(report.comparisons.filter((c) => !c.sameParams).map((c) => c.arch))];
  const warning = drifted.length > 0 ? [``, `**Not the same nets:** ${drifted.join(', ')} ${drifted.length > 1 ? 'have' : 'has'} a different parameter count in torch_bench.py than in models.ts; fix ARCHS there.`] : [];
  return [head, rule, ...rows, ...warning];
}

function distributedLine(report: TrainReport): string {
  const d = report.distributed;
  if (!d) return 'No two-replica figure: run `npx tsx bench/distributed/run.ts` first to get one here.';
  const secs = (s: number | null) => (s === null ? 'not reached' : `${s.toFixed(1)} s`);
  return (
    `Two data-parallel replicas of ${d.arch} ([\`${d.source.split('/').pop()}\`](../${d.source}), wall time from the job's start to the end of the first epoch at ${pct(d.target)} validation accuracy, start-up and validation included): ` +
    `${secs(d.twoReplicaSeconds)}; two-thread PyTorch to ${pct(d.target)} test accuracy: ${secs(d.pytorch2ThreadSeconds)}; ratio **${times(d.ratio)}** (goal ≤ 2× at 99.0%).`
  );
}

/** docs/benchmarks-train.md, generated from one results file. */
export function renderMarkdown(report: TrainReport, resultsFile: string): string {
  const s = report.settings;
  const m = report.machine;
  const torch = report.pytorch.available ? `PyTorch ${report.pytorch.version} (Debian's python3-torch)` : `PyTorch skipped: ${report.pytorch.reason}`;
  const busy =
    m.loadAverage !== undefined && m.loadAverage > 0.5
      ? `\n\n**The machine was busy** (1-minute load ${m.loadAverage.toFixed(1)} on ${m.cpus} cores when the run began): every figure is low, two-thread PyTorch's most of all (its threads wait for each other). Run it again on an idle machine before quoting it.`
      : '';
  const caps = Object.entries(s.capSeconds)
    .map(([who, secs]) => `${who} ${secs} s`)
    .join(', ');
  return `# Training benchmark

Produced by \`npx tsx bench/train/run.ts\` on ${report.date.slice(0, 10)} (${m.cpus} cores, ${m.cpuModel}, Node ${m.node}, TensorFlow.js ${report.tfjs}, ${torch})${s.quick ? ' — a **--quick** run: seconds per entry, numbers not comparable' : ''}; raw numbers in [\`${resultsFile}\`](../bench/results/${resultsFile}).${busy}

The same nets (libs/ml/src/models.ts; PyTorch's copy in bench/train/torch_bench.py) trained with the same recipe: batch ${s.batchSize}, Adam at ${s.learningRate}, inputs in [0, 1], seed ${String(s.seed ?? 1)}, each entry in its own process. Time counts training steps only: the evaluation on all ${num(s.testSamples)} MNIST test images every ${num(s.evalEverySamples)} samples pauses the clock. An entry stops at ${pct(Math.max(...s.targets))} or its cap (${caps}). The pure-JS CPU backend is measured for throughput only. Peak RSS is the whole process (dataset, runtime and libraries included).

## Absolute figures

${resultRows(report).join('\n')}

## Ratios to single-thread PyTorch on the same net

Goals (issue 11): samples/s ≥ 0.40× for cnn-small and cnn-deep; lower is better for time and RSS.

${ratioRows(report).join('\n')}

${distributedLine(report)}
${report.skipped.length > 0 ? `\nNot run: ${report.skipped.join('; ')}.\n` : ''}`;
}
