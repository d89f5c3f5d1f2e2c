import { mountShell } from '../shell';
import { $, el, fmt, showError } from '../dom';
import { lineChart } from '../charts';
import { CHART_GROUPS, curvesOf, registry, type MetricPoint, type Run } from '../registryApi';
import { differingKeys, keysOf } from '../core/runTable';

// Selected runs side by side: one chart per metric with every run's curve overlaid, and their
// parameters, final metrics and tags in columns, the rows that differ highlighted.

const MAX_COMPARED = 10;
const ids = (new URLSearchParams(location.search).get('runs') ?? '').split(',').map((s) => s.trim()).filter(Boolean).slice(0, MAX_COMPARED);
type Loaded = { run: Run & { metrics: Record<string, number> }; points: MetricPoint[] };

/** Parameters as they were given (0.01, not 0.01000); metrics to four decimals. */
const show = (v: unknown, metric: boolean): string => (v === undefined || v === null ? '–' : typeof v === 'number' && metric ? fmt(v) : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A table with one row per key and one column per run; rows whose values differ get class "differs", and so do their cells. */
function sideBySide(table: HTMLTableElement, runs: Loaded[], records: Record<string, unknown>[], what: 'parameter' | 'metric' | 'tag'): void {
  const differing = differingKeys(records);
  table.tHead!.replaceChildren(el('tr', {}, el('th', {}, what), ...runs.map((r) => el('th', {}, el('a', { href: `/runs/${encodeURIComponent(r.run.runId)}` }, r.run.runId)))));
  table.tBodies[0]!.replaceChildren(...keysOf(records).map((k) => {
    const differs = differing.has(k);
    return el('tr', { 'data-key': k, class: differs ? 'differs' : undefined }, el('th', {}, k), ...records.map((r) => el('td', { class: differs ? 'differs' : undefined }, show(r[k], what === 'metric'))));
  }));
}

function overlay(runs: Loaded[]): void {
  const charts = $('charts');
  charts.replaceChildren();
  const curves = runs.map((r) => curvesOf(r.points));
  const keys = keysOf(curves.map((c) => Object.fromEntries([...c].filter(([, list]) => list.length > 1))));
  for (const g of CHART_GROUPS) {
    for (const key of keys.filter(g.keys)) {
      const box = el('div', { class: 'chart', 'data-chart': key });
      charts.append(box);
      const series = runs.flatMap((r, i) => (curves[i]!.get(key)?.length ? [{ label: r.run.runId, points: curves[i]!.get(key)! }] : []));
      lineChart(box, series, { title: key, xLabel: 'epoch', yLabel: g.yLabel, width: 520 });
    }
  }
  if (!charts.children.length) charts.append(el('p', { class: 'muted' }, 'None of these runs recorded a metric at more than one step.'));
}

async function main(): Promise<void> {
  await mountShell();
  if (ids.length < 2) {
    showError($('charts'), 'Nothing to compare', new Error('pick two or more runs on the experiments page (the URL is /compare?runs=a,b)'));
    return;
  }
  $('compare-runs').textContent = ids.join(' · ');
  try {
    const runs: Loaded[] = await Promise.all(ids.map(async (id) => ({ run: await registry.run(id), points: await registry.metrics(id) })));
    overlay(runs);
    sideBySide($<HTMLTableElement>('params'), runs, runs.map((r) => r.run.params), 'parameter');
    sideBySide($<HTMLTableElement>('final'), runs, runs.map((r) => Object.fromEntries(Object.entries(r.run.metrics).filter(([k]) => !k.startsWith('test_accuracy_class_')))), 'metric');
    sideBySide($<HTMLTableElement>('tags'), runs, runs.map((r) => r.run.tags), 'tag');
  } catch (err) {
    showError($('charts'), 'Could not load the runs', err);
  }
}
void main();
