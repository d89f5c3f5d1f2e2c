import { api } from '../session';
import { mountShell } from '../shell';
import { lineChart, colourOf } from '../charts';
import { $, el, pct, showError } from '../dom';
import { scatterChart } from './sweeps.scatter';

// The sweeps page: every trial of a sweep with its hyperparameters and curve, pruned trials with the
// early-stopping rule's reason, the best trial, and each varied hyperparameter against accuracy;
// and a form that starts a grid or random sweep.

type Metrics = { epoch: number; valAccuracy?: number; accuracy: number };
type Trial = {
  trial: number;
  jobId: string;
  hyperparams: Record<string, unknown>;
  status: string;
  statusReason: string | null;
  valAccuracy: number | null;
  epochs: number;
  pruned: boolean;
  history?: Metrics[];
};
type Sweep = { sweepId: string; status: string; statusReason: string | null; bestJobId: string | null; trials: Trial[]; createdAt: string; spec: { strategy: string; space: Record<string, unknown>; earlyStopping: { rule: string } } };

await mountShell();

const picked = () => $<HTMLSelectElement>('sweep-pick').value;
let sweeps: Sweep[] = [];
let shown = '';
/** The sweep to show after the next refresh (the one just started). */
let wanted: string | undefined;

/** The hyperparameters the sweep varies, in its space's order. */
const variedOf = (s: Sweep) => Object.keys(s.spec.space);
const valueText = (v: unknown) => (typeof v === 'number' ? String(v) : String(v ?? '–'));

function trialRow(s: Sweep, t: Trial): HTMLTableRowElement {
  const best = s.bestJobId === t.jobId;
  const varied = variedOf(s).map((k) => `${k} ${valueText(t.hyperparams[k])}`).join(', ');
  const tr = el(
    'tr',
    { 'data-trial': String(t.trial), 'data-job': t.jobId, class: t.pruned ? 'pruned' : best ? 'best' : undefined },
    el('td', {}, String(t.trial), best ? el('span', { class: 'tag' }, 'best') : null),
    el('td', {}, t.jobId),
    el('td', {}, t.pruned ? 'pruned' : t.status),
    el('td', {}, varied),
    el('td', { class: 'num' }, pct(t.valAccuracy)),
    el('td', { class: 'num' }, String(t.epochs)),
    el('td', { class: t.pruned ? 'reason' : undefined }, t.statusReason ?? ''),
  );
  return tr;
}

function render(s: Sweep): void {
  const best = s.trials.find((t) => t.jobId === s.bestJobId);
  $('sweep-summary').textContent =
    `${s.spec.strategy} sweep ${s.sweepId}: ${s.status}${s.statusReason ? ` — ${s.statusReason}` : ''}; early stopping: ${s.spec.earlyStopping.rule}` +
    (best ? `; best: trial ${best.trial} (${pct(best.valAccuracy)})` : '');
  $<HTMLTableElement>('trials').tBodies[0]!.replaceChildren(...s.trials.map((t) => trialRow(s, t)));

  const curves = $('curves');
  curves.replaceChildren();
  lineChart(
    curves,
    s.trials.map((t) => ({ label: `trial ${t.trial}${t.pruned ? ' (pruned)' : ''}`, points: (t.history ?? []).map((m) => ({ x: m.epoch, y: m.valAccuracy ?? m.accuracy })) })),
    { title: 'validation accuracy per epoch', xLabel: 'epoch', yLabel: 'val accuracy' },
  );

  const param = $<HTMLSelectElement>('scatter-param');
  const keys = variedOf(s);
  if (Array.from(param.options, (o) => o.value).join() !== keys.join()) {
    param.replaceChildren(...keys.map((k) => new Option(k, k)));
    // At first the one that differs most between trials (a grid's single-value axes say nothing).
    const spread = (k: string) => new Set(s.trials.map((t) => valueText(t.hyperparams[k]))).size;
    param.value = [...keys].sort((a, b) => spread(b) - spread(a))[0] ?? '';
  }
  drawScatter(s);
}

function drawScatter(s: Sweep): void {
  const key = $<HTMLSelectElement>('scatter-param').value;
  const target = $('scatter');
  target.replaceChildren();
  if (!key) return;
  const scored = s.trials.filter((t) => t.valAccuracy !== null);
  const values = scored.map((t) => t.hyperparams[key]);
  const numeric = values.every((v) => typeof v === 'number');
  const categories = numeric ? undefined : [...new Set(values.map(valueText))];
  const points = scored.map((t, i) => ({
    x: numeric ? (t.hyperparams[key] as number) : categories!.indexOf(valueText(t.hyperparams[key])),
    y: t.valAccuracy!,
    label: `trial ${t.trial}${t.pruned ? ' (pruned)' : t.jobId === s.bestJobId ? ' (best)' : ''}`,
    colour: t.pruned ? '#9aa3b5' : t.jobId === s.bestJobId ? '#e0582f' : colourOf(i),
  }));
  if (!points.length) {
    target.append(el('p', { class: 'muted' }, 'No trial has reported an epoch yet.'));
    return;
  }
  scatterChart(target, points, { title: `${key} against the last validation accuracy`, xLabel: key, yLabel: 'val accuracy', ...(categories ? { categories } : {}), log: key === 'learningRate' });
}

async function refresh(): Promise<void> {
  try {
    ({ sweeps } = await api<{ sweeps: Sweep[] }>('/api/sweeps'));
  } catch (err) {
    showError($('sweep-summary'), 'Could not list the sweeps', err);
    return;
  }
  const pick = $<HTMLSelectElement>('sweep-pick');
  const current = wanted ?? picked();
  wanted = undefined;
  pick.replaceChildren(...sweeps.map((s) => new Option(`${s.sweepId} (${s.status}, ${s.trials.length} trials)`, s.sweepId)));
  pick.value = sweeps.some((s) => s.sweepId === current) ? current : (sweeps[0]?.sweepId ?? '');
  const s = sweeps.find((x) => x.sweepId === pick.value);
  if (!s) {
    $('sweep-summary').textContent = 'No sweep yet: start one above.';
    return;
  }
  // Redraw only when something changed: the charts keep their hover state between polls.
  const fingerprint = JSON.stringify(s);
  if (fingerprint !== shown) {
    shown = fingerprint;
    render(s);
  }
}

/** A list field: "0.1, 0.01" → [0.1, 0.01]; for random search, "0.0001-0.01" → a log-scale range. */
function listOf(text: string, numeric: boolean): unknown[] | undefined {
  const items = text.split(',').map((x) => x.trim()).filter(Boolean);
  if (!items.length) return undefined;
  if (!numeric) return items;
  return items.map((x) => {
    const n = Number(x);
    if (!Number.isFinite(n)) throw new Error(`"${x}" is not a number`);
    return n;
  });
}

function sweepRequest(form: FormData): unknown {
  const text = (k: string) => String(form.get(k) ?? '');
  const strategy = text('strategy');
  const lr = text('learningRate').trim();
  const range = /^(\S+)\s*\.\.\s*(\S+)$/.exec(lr);
  const space: Record<string, unknown> = {};
  if (range) {
    const [min, max] = [Number(range[1]), Number(range[2])];
    if (!Number.isFinite(min) || !Number.isFinite(max)) throw new Error(`"${lr}" is not a range of learning rates (like 0.0001..0.01)`);
    space.learningRate = { min, max, scale: 'log' };
  } else if (lr) space.learningRate = listOf(lr, true);
  const batch = listOf(text('batchSize'), true);
  if (batch && batch.length) space.batchSize = batch;
  const arch = listOf(text('arch'), false);
  if (arch && arch.length) space.arch = arch;
  return {
    hyperparams: { epochs: Number(text('epochs')), trainSubset: Number(text('trainSubset')) },
    sweep: { strategy, space, trials: Number(text('trials')), seed: Number(text('seed')), earlyStopping: { rule: text('rule'), minEpochs: Number(text('minEpochs')) } },
    reason: 'sweep started from the web UI',
  };
}

$<HTMLFormElement>('sweep-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const out = $('sweep-status');
  let body: unknown;
  try {
    body = sweepRequest(new FormData(e.target as HTMLFormElement));
  } catch (err) {
    out.textContent = `Not started: ${(err as Error).message}`;
    return;
  }
  api<Sweep>('/api/sweeps', body)
    .then((s) => {
      out.textContent = `Started ${s.sweepId} with ${s.trials.length} trials`;
      wanted = s.sweepId;
      return refresh();
    })
    .catch((err: Error) => (out.textContent = `Not started: ${err.message}`));
});
$<HTMLSelectElement>('sweep-pick').addEventListener('change', () => {
  shown = '';
  void refresh();
});
$<HTMLSelectElement>('scatter-param').addEventListener('change', () => {
  const s = sweeps.find((x) => x.sweepId === picked());
  if (s) drawScatter(s);
});
await refresh();
// Trials report an epoch at a time: a light poll keeps the table and charts current.
setInterval(() => void refresh(), 3000);
