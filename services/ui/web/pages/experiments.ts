import { mountShell } from '../shell';
import { $, el, fmt, showError } from '../dom';
import { registry, type Run } from '../registryApi';
import { hasTag, keysOf, matches, parseFilter, sortRows, valueOf, type RunRow } from '../core/runTable';

// The runs table: every run of the experiment with its parameters, tags and latest metrics;
// filter by any of them, search by tag, sort by any column, pick runs to compare.

const EXPERIMENT = new URLSearchParams(location.search).get('experiment') ?? 'mnist';
/** The table shows at most this many runs (newest first): beyond it, filter on the registry's API. */
const MAX_RUNS = 500;
/** Metric columns shown by default; every other metric still filters and sorts. */
const SHOWN_METRICS = ['test_accuracy', 'transformed_test_accuracy', 'val_accuracy', 'accuracy', 'loss', 'val_loss', 'samples_per_sec', 'duration_seconds'];
const SHOWN_PARAMS = ['arch', 'epochs', 'batchSize', 'learningRate', 'optimizer', 'lrSchedule'];

let rows: RunRow[] = [];
let sortKey = 'test_accuracy';
let order: 'asc' | 'desc' = 'desc';
const selected = new Set<string>();

type Column = { key: string; label: string; numeric: boolean };

function columns(): Column[] {
  const metrics = keysOf(rows.map((r) => r.metrics)).filter((k) => SHOWN_METRICS.includes(k)).sort((a, b) => SHOWN_METRICS.indexOf(a) - SHOWN_METRICS.indexOf(b));
  const params = keysOf(rows.map((r) => r.params)).filter((k) => SHOWN_PARAMS.includes(k)).sort((a, b) => SHOWN_PARAMS.indexOf(a) - SHOWN_PARAMS.indexOf(b));
  return [
    { key: 'run', label: 'run', numeric: false },
    { key: 'status', label: 'status', numeric: false },
    ...params.map((k) => ({ key: `params.${k}`, label: k, numeric: false })),
    ...metrics.map((k) => ({ key: `metrics.${k}`, label: k, numeric: true })),
    { key: 'tags', label: 'tags', numeric: false },
  ];
}

function render(): void {
  const f = parseFilter($<HTMLInputElement>('filter').value);
  const status = $('filter-status');
  status.textContent = 'error' in f ? f.error : '';
  const clauses = 'error' in f ? [] : f.clauses;
  const tag = $<HTMLInputElement>('tag-search').value;
  const shown = sortRows(rows.filter((r) => matches(r, clauses) && hasTag(r, tag)), sortKey, order);
  const cols = columns();
  const head = el('tr', {}, el('th', {}, ''), ...cols.map((c) => {
    const th = el('th', { class: c.key === 'tags' ? undefined : 'sortable', 'data-key': c.key }, c.label);
    if (c.key === sortKey || `metrics.${sortKey}` === c.key || `params.${sortKey}` === c.key) th.setAttribute('aria-sort', order === 'asc' ? 'ascending' : 'descending');
    if (c.key !== 'tags') th.addEventListener('click', () => setSort(c.key, c.key === sortKey ? (order === 'asc' ? 'desc' : 'asc') : c.numeric ? 'desc' : 'asc'));
    return th;
  }));
  $<HTMLTableElement>('runs').tHead!.replaceChildren(head);
  $<HTMLTableElement>('runs').tBodies[0]!.replaceChildren(...shown.map((r) => {
    const box = el('input', { type: 'checkbox', 'aria-label': `select ${r.runId}`, 'data-select': r.runId });
    box.checked = selected.has(r.runId);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(r.runId);
      else selected.delete(r.runId);
      $<HTMLButtonElement>('compare').disabled = selected.size < 2;
    });
    const cells = cols.map((c) => {
      if (c.key === 'run') return el('td', { 'data-key': 'run' }, el('a', { href: `/runs/${encodeURIComponent(r.runId)}` }, r.runId));
      if (c.key === 'tags') return el('td', { 'data-key': 'tags' }, ...Object.entries(r.tags).map(([k, v]) => el('span', { class: 'tag' }, `${k}=${v}`)));
      const v = valueOf(r, c.key);
      return el('td', { 'data-key': c.key, class: c.numeric ? 'num' : undefined }, typeof v === 'number' && c.numeric ? fmt(v) : v === undefined ? '–' : String(v));
    });
    return el('tr', { 'data-run': r.runId }, el('td', {}, box), ...cells);
  }));
  status.textContent ||= `${shown.length} of ${rows.length} runs`;
}

function setSort(key: string, dir: 'asc' | 'desc'): void {
  sortKey = key.replace(/^metrics\./, '');
  order = dir;
  const select = $<HTMLSelectElement>('sort');
  if (Array.from(select.options).some((o) => o.value === sortKey)) select.value = sortKey;
  $<HTMLSelectElement>('order').value = order;
  render();
}

/** Every sortable key: each metric, then params.x and tags.x. */
function fillSortOptions(): void {
  const keys = [...keysOf(rows.map((r) => r.metrics)), ...keysOf(rows.map((r) => r.params)).map((k) => `params.${k}`), ...keysOf(rows.map((r) => r.tags)).map((k) => `tags.${k}`), 'run', 'status'];
  $<HTMLSelectElement>('sort').replaceChildren(...keys.map((k) => new Option(k, k, false, k === sortKey)));
}

async function load(): Promise<void> {
  const [runs, latest, model] = await Promise.all([
    registry.runs(EXPERIMENT),
    registry.latestMetrics(EXPERIMENT),
    registry.model(EXPERIMENT).catch(() => ({ aliases: {} as Record<string, number> })),
  ]);
  $('experiment').textContent = EXPERIMENT;
  $('aliases').textContent = Object.entries(model.aliases).map(([a, v]) => `${a} → v${v}`).join(' · ') || 'no aliases yet';
  const newest = [...runs].sort((a, b) => String(b.startedAt).localeCompare(String(a.startedAt))).slice(0, MAX_RUNS);
  rows = newest.map((r: Run) => ({ runId: r.runId, status: r.status, params: r.params, tags: r.tags, startedAt: r.startedAt, metrics: latest[r.runId] ?? {} }));
  fillSortOptions();
  render();
}

$('filter').addEventListener('input', render);
$('tag-search').addEventListener('input', render);
$<HTMLSelectElement>('sort').addEventListener('change', (e) => setSort((e.target as HTMLSelectElement).value, order));
$<HTMLSelectElement>('order').addEventListener('change', (e) => setSort(sortKey, (e.target as HTMLSelectElement).value as 'asc' | 'desc'));
$('compare').addEventListener('click', () => location.assign(`/compare?runs=${[...selected].map(encodeURIComponent).join(',')}`));
void mountShell();
void load().catch((err) => showError($('aliases'), 'Could not load runs', err));
