import { mountShell } from '../shell';
import { $, el, fmt, pct, showError } from '../dom';
import { lineChart } from '../charts';
import { ARTEFACT_LABELS, artefactUrl, CHART_GROUPS, curvesOf, registry, type MetricPoint, type Registration, type Run, type Version } from '../registryApi';

// One run: its parameters and tags, its curves, the evaluation of the version it registered
// (confusion matrix, per-class accuracy, model card), the gate's decision, lineage and artefacts.

const runId = decodeURIComponent(location.pathname.split('/')[2] ?? '');

function showHead(run: Run & { metrics: Record<string, number> }): void {
  $('run-id').textContent = run.runId;
  $('run-status').textContent = run.status;
  const took = run.endedAt && run.startedAt ? ` · ${((Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s` : '';
  $('run-summary').textContent = `experiment ${run.experiment} · started ${run.startedAt ?? '–'}${took}${run.backend ? ` · backend ${run.backend}` : ''}${run.error ? ` · error: ${run.error}` : ''}`;
  $('params').querySelector('tbody')!.replaceChildren(...Object.entries(run.params).map(([k, v]) => el('tr', { 'data-param': k }, el('th', {}, k), el('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)))));
  const tags = Object.entries(run.tags);
  $('tags').replaceChildren(...(tags.length ? tags.map(([k, v]) => el('span', { class: 'tag' }, `${k}=${v}`)) : ['none']));
  const finals = Object.entries(run.metrics).filter(([k]) => !k.startsWith('test_accuracy_class_'));
  $('final').querySelector('tbody')!.replaceChildren(...finals.map(([k, v]) => el('tr', { 'data-metric': k }, el('th', {}, k), el('td', { class: 'num' }, fmt(v)))));
}

/** One uPlot chart per group of curves (accuracy, loss, throughput), then one per other metric recorded at more than one step. */
function showCurves(points: MetricPoint[]): void {
  const curves = curvesOf(points);
  const charts = $('charts');
  charts.replaceChildren();
  const plotted = new Set<string>();
  const plot = (title: string, yLabel: string, keys: string[]) => {
    const box = el('div', { class: 'chart', 'data-chart': title });
    charts.append(box);
    lineChart(box, keys.map((k) => ({ label: k, points: curves.get(k)! })), { title, xLabel: title.endsWith('per step') ? 'step' : 'epoch', yLabel, width: 520 });
    keys.forEach((k) => plotted.add(k));
  };
  for (const g of CHART_GROUPS) {
    const keys = [...curves.keys()].filter((k) => g.keys(k) && curves.get(k)!.length > 1);
    if (keys.length) plot(g.title, g.yLabel, keys);
  }
  for (const [k, list] of curves) if (!plotted.has(k) && list.length > 1 && !k.startsWith('test_accuracy_class_')) plot(`${k} per step`, k, [k]);
  if (!charts.children.length) charts.append(el('p', { class: 'muted' }, 'No metric was recorded at more than one step.'));
}

/** The confusion matrix as a heatmap: each cell's shade is its share of the true digit's row. */
function showEvaluation(v: Version): void {
  const m = v.confusionMatrix;
  const head = el('tr', {}, el('th', {}, 'true \\ predicted'), ...m.map((_, c) => el('th', {}, c)));
  const body = m.map((row, t) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    return el('tr', {}, el('th', {}, t), ...row.map((n, p) => {
      const share = n / total;
      const cell = el('td', { 'data-true': String(t), 'data-predicted': String(p), title: `true ${t}, predicted ${p}: ${n} (${(share * 100).toFixed(1)}% of ${t}s)` }, n);
      cell.style.background = t === p ? `rgba(11, 99, 206, ${0.1 + share * 0.9})` : `rgba(224, 88, 47, ${Math.min(1, share * 3)})`;
      if (share > 0.55) cell.style.color = '#fff';
      return cell;
    }));
  });
  $('confusion').replaceChildren(el('table', { class: 'heatmap', 'aria-label': 'confusion matrix' }, el('thead', {}, head), el('tbody', {}, ...body)));
  $('per-class').querySelector('tbody')!.replaceChildren(
    ...v.perClassAccuracy.map((a, c) => {
      const bar = el('div', { class: 'bar' });
      bar.style.width = `${Math.max(1, a * 160)}px`;
      return el('tr', { 'data-class': String(c) }, el('th', {}, `digit ${c}`), el('td', { class: 'num' }, pct(a)), el('td', {}, bar));
    }),
  );
}

function showRegistration(r: Registration): void {
  const target = $('registration');
  if (!r.version) {
    target.replaceChildren(el('p', { class: 'muted' }, 'This run registered no model version (still running, failed, cancelled, or a sweep trial that was not the best).'));
    return;
  }
  const v = r.version;
  const g = r.gate;
  target.replaceChildren(
    el('dl', { class: 'kv' },
      el('dt', {}, 'version'), el('dd', {}, el('a', { href: `/models/${encodeURIComponent(v.model)}`, id: 'version-link' }, `${v.model} v${v.version}`), ' ', ...v.aliases.map((a) => el('span', { class: 'alias' }, a))),
      el('dt', {}, 'test accuracy'), el('dd', {}, pct(v.testAccuracy)),
      el('dt', {}, 'transformed digits'), el('dd', {}, v.transformedTestAccuracy === null ? 'not measured' : pct(v.transformedTestAccuracy)),
      el('dt', {}, 'gate'), el('dd', { id: 'gate-outcome' }, g ? g.outcome : 'no decision recorded'),
      el('dt', {}, 'reason'), el('dd', { id: 'gate-reason' }, g?.reason ?? '–'),
      el('dt', {}, 'champion then'), el('dd', { id: 'gate-champion' }, g?.championAtTheTime ? `v${g.championAtTheTime.version} (${pct(g.championAtTheTime.testAccuracy)})` : 'none: the first version'),
    ),
  );
  const offered: (keyof typeof ARTEFACT_LABELS)[] = ['modelCard', 'confusion', 'modelJson', 'weights', ...(v.onnx?.status === 'verified' ? (['onnx'] as const) : [])];
  $('artefacts').replaceChildren(...offered.map((a) => el('li', {}, el('a', { href: artefactUrl(v.model, v.version, a), download: '' }, ARTEFACT_LABELS[a]))));
  if (v.onnx?.status === 'absent') $('artefacts').append(el('li', { class: 'muted' }, `no ONNX: ${v.onnx.reason ?? ''}`));
}

async function showLineage(run: Run): Promise<void> {
  const target = $('lineage');
  const dataset = typeof run.params.dataset === 'string' ? run.params.dataset : 'mnist';
  const kv = el('dl', { class: 'kv' }, el('dt', {}, 'code version'), el('dd', { id: 'code-version' }, run.codeVersion), el('dt', {}, 'dataset version'), el('dd', { id: 'dataset-version' }, `${dataset} ${run.datasetVersion.slice(0, 12)}`));
  if (run.parentRunId) kv.append(el('dt', {}, 'sweep'), el('dd', {}, el('a', { href: `/runs/${encodeURIComponent(run.parentRunId)}` }, run.parentRunId)));
  target.replaceChildren(kv);
  try {
    const d = await registry.datasetVersion(dataset, run.datasetVersion);
    const rows = d.batches.map((b) => el('tr', { 'data-batch': b.contentHash }, el('td', {}, b.split), el('td', {}, b.contentHash.slice(0, 12)), el('td', { class: 'num' }, b.samples ?? '–'), el('td', {}, b.sourcePrefix ?? '–'), el('td', {}, b.createdAt ?? '–')));
    target.append(
      el('p', {}, `${d.trainSamples} train and ${d.testSamples} test samples in ${d.trainBatchCount} + ${d.testBatchCount} batches${d.truncated ? ` (the first ${d.batches.length} listed)` : ''}:`),
      el('table', { id: 'batches' }, el('thead', {}, el('tr', {}, el('th', {}, 'split'), el('th', {}, 'batch'), el('th', {}, 'samples'), el('th', {}, 'from'), el('th', {}, 'normalised at'))), el('tbody', {}, ...rows)),
    );
  } catch (err) {
    target.append(el('p', { class: 'muted' }, `The dataset version's batches are not available: ${(err as Error).message}`));
  }
}

async function showModelCard(v: Version): Promise<void> {
  const res = await fetch(artefactUrl(v.model, v.version, 'modelCard'));
  $('model-card').textContent = res.ok ? await res.text() : `No model card: ${((await res.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${res.status}`}`;
}

async function main(): Promise<void> {
  await mountShell();
  document.title = `mlpipe — run ${runId}`;
  try {
    const [run, points, registration] = await Promise.all([registry.run(runId), registry.metrics(runId), registry.registration(runId)]);
    showHead(run);
    showCurves(points);
    showRegistration(registration);
    if (registration.version) {
      showEvaluation(registration.version);
      await showModelCard(registration.version);
    }
    await showLineage(run);
  } catch (err) {
    showError($('charts'), `Could not load run ${runId}`, err);
  }
}
void main();
