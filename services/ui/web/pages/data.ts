import { api } from '../session';
import { mountShell } from '../shell';
import { lineChart } from '../charts';
import { $, el, fmt, showError } from '../dom';

// The data page: what the dataset watcher accepted and rejected (every reason), the dataset versions
// it made and what each holds, and the drift monitor's windows over time per model version
// (each test's statistic, p-value and PSI) with the retraining each drift event caused.

type Batch = { sourcePrefix: string; batchId: string; status: 'validated' | 'rejected'; dataset: string | null; split: string | null; samples: number | null; classCounts: number[] | null; reasons: string[]; warnings: string[]; processedAt: string };
type Version = { id: string; dataset: string; trainSamples: number; testSamples: number; trainBatchCount: number; testBatchCount: number; createdAt: string };
type Contents = { version: Version; batches: { split: string; contentHash: string; sourcePrefix: string | null; samples: number | null; classCounts: number[] | null }[] };
type Test = { name: string; kind: string; statistic: number; pValue: number; psi: number; drifted: boolean };
type Window = { modelName: string; modelVersion: number; from: string; to: string; samples: number; drifted: boolean; reasons: string[]; tests: Test[]; eventId: string | null; judgedAt: string };
type Alert = { eventId: string; modelName: string; modelVersion: number; reasons: string[]; detectedAt: string; retrainJob: { jobId: string; status: string; modelVersion: number | null; trigger: string } | null };

await mountShell();

const when = (iso: string) => new Date(iso).toLocaleString();
const list = (items: string[], cls: string) => el('ul', { class: cls }, ...items.map((r) => el('li', {}, r)));

async function loadBatches(): Promise<void> {
  const filter = $<HTMLSelectElement>('batch-filter').value;
  try {
    const { batches } = await api<{ batches: Batch[] }>(`/api/data/batches${filter ? `?status=${filter}` : ''}`);
    const rejected = batches.filter((b) => b.status === 'rejected').length;
    $('batch-summary').textContent = `${batches.length} batches, ${rejected} rejected (newest first)`;
    $<HTMLTableElement>('batches').tBodies[0]!.replaceChildren(
      ...batches.map((b) =>
        el(
          'tr',
          { 'data-batch': b.batchId, class: b.status },
          el('td', { title: b.sourcePrefix }, b.batchId),
          el('td', {}, b.status),
          el('td', {}, b.dataset ? `${b.dataset} · ${b.split ?? ''}` : '–'),
          el('td', { class: 'num' }, b.samples ?? '–'),
          el('td', { class: 'muted' }, b.classCounts ? b.classCounts.join(' ') : ''),
          el('td', {}, b.reasons.length ? list(b.reasons, 'reasons') : null, b.warnings.length ? list(b.warnings, 'warnings muted') : null),
          el('td', {}, when(b.processedAt)),
        ),
      ),
    );
  } catch (err) {
    showError($('batch-summary'), 'Could not list the batches', err);
  }
}

async function showContents(id: string): Promise<void> {
  const target = $('version-contents');
  try {
    const c = await api<Contents>(`/api/data/datasets/${id}`);
    target.replaceChildren(
      el('h3', {}, `What version ${id.slice(0, 12)} holds: ${c.version.trainSamples} train and ${c.version.testSamples} test samples`),
      el(
        'table',
        { id: 'contents' },
        el('thead', {}, el('tr', {}, ...['split', 'batch (content hash)', 'from', 'samples', 'per class'].map((h) => el('th', {}, h)))),
        el(
          'tbody',
          {},
          ...c.batches.map((b) =>
            el('tr', {}, el('td', {}, b.split), el('td', { title: b.contentHash }, b.contentHash.slice(0, 12)), el('td', {}, b.sourcePrefix ?? '–'), el('td', { class: 'num' }, b.samples ?? '–'), el('td', { class: 'muted' }, b.classCounts?.join(' ') ?? '')),
          ),
        ),
      ),
    );
  } catch (err) {
    showError(target, `Could not read version ${id.slice(0, 12)}`, err);
  }
}

async function loadVersions(): Promise<void> {
  try {
    const { versions } = await api<{ versions: Version[] }>('/api/data/datasets');
    $<HTMLTableElement>('versions').tBodies[0]!.replaceChildren(
      ...versions.map((v) => {
        const open = el('button', { type: 'button' }, 'contents');
        open.addEventListener('click', () => void showContents(v.id));
        return el(
          'tr',
          { 'data-version': v.id },
          el('td', { title: v.id }, v.id.slice(0, 12)),
          el('td', {}, v.dataset),
          el('td', {}, `${v.trainSamples} samples in ${v.trainBatchCount} batches`),
          el('td', {}, `${v.testSamples} samples in ${v.testBatchCount} batches`),
          el('td', {}, when(v.createdAt)),
          el('td', {}, open),
        );
      }),
    );
  } catch (err) {
    showError($('version-contents'), 'Could not list the dataset versions', err);
  }
}

function retrainCell(alert: Alert | undefined): HTMLElement {
  if (!alert) return el('td', { class: 'muted' }, '');
  const job = alert.retrainJob;
  return el('td', {}, job ? `${job.jobId} (${job.status}${job.modelVersion ? `, became v${job.modelVersion}` : ''})` : 'none yet: waiting for new labelled data');
}

function drawDrift(windows: Window[], alerts: Alert[]): void {
  const versions = [...new Set(windows.map((w) => w.modelVersion))].sort((a, b) => b - a);
  const pick = $<HTMLSelectElement>('drift-version');
  const current = Number(pick.value);
  pick.replaceChildren(...versions.map((v) => new Option(`v${v}`, String(v))));
  if (versions.includes(current)) pick.value = String(current);
  const version = Number(pick.value);
  // Oldest first on the charts: window 1 is the first this version was judged on.
  const mine = windows.filter((w) => w.modelVersion === version).reverse();
  const drifted = mine.filter((w) => w.drifted).length;
  $('drift-summary').textContent = windows.length
    ? `v${version}: ${mine.length} windows judged, ${drifted} drifted; ${alerts.length} drift events in all`
    : 'No window judged yet: the gateway samples predictions (PREDICTION_SAMPLE_SHARE) and the watcher judges every DRIFT_WINDOW of them.';
  const names = [...new Set(mine.flatMap((w) => w.tests.map((t) => t.name)))];
  const seriesOf = (value: (t: Test) => number) =>
    names.map((name) => ({ label: name, points: mine.flatMap((w, i) => w.tests.filter((t) => t.name === name).map((t) => ({ x: i + 1, y: value(t) }))) }));
  for (const id of ['drift-psi', 'drift-p']) $(id).replaceChildren();
  if (mine.length) {
    lineChart($('drift-psi'), seriesOf((t) => t.psi), { title: 'PSI per window', xLabel: 'window', yLabel: 'PSI' });
    lineChart($('drift-p'), seriesOf((t) => t.pValue), { title: 'p-value per window', xLabel: 'window', yLabel: 'p-value' });
  }
  const byEvent = new Map(alerts.map((a) => [a.eventId, a]));
  $<HTMLTableElement>('windows').tBodies[0]!.replaceChildren(
    ...mine
      .map((w, i) =>
        el(
          'tr',
          { class: w.drifted ? 'drifted' : undefined },
          el('td', {}, String(i + 1)),
          el('td', {}, `v${w.modelVersion}`),
          el('td', {}, `${when(w.from)} → ${when(w.to)}`),
          el('td', { class: 'num' }, w.samples),
          el('td', {}, w.drifted ? 'drifted' : 'stable', w.reasons.length ? list(w.reasons, 'reasons') : null),
          el('td', {}, list(w.tests.map((t) => `${t.name} (${t.kind}): ${fmt(t.statistic, 3)} · p=${t.pValue.toExponential(1)} · PSI ${fmt(t.psi, 3)}${t.drifted ? ' — drifted' : ''}`), 'tests')),
          retrainCell(w.eventId ? byEvent.get(w.eventId) : undefined),
        ),
      )
      .reverse(),
  );
  $<HTMLTableElement>('alerts').tBodies[0]!.replaceChildren(
    ...alerts.map((a) =>
      el(
        'tr',
        { 'data-event': a.eventId },
        el('td', {}, when(a.detectedAt)),
        el('td', {}, `${a.modelName} v${a.modelVersion}`),
        el('td', {}, list(a.reasons, 'reasons')),
        el('td', {}, a.retrainJob?.jobId ?? 'none yet', a.retrainJob ? el('div', { class: 'muted' }, a.retrainJob.trigger) : null),
        el('td', {}, a.retrainJob?.status ?? ''),
        el('td', {}, a.retrainJob?.modelVersion ? `v${a.retrainJob.modelVersion}` : ''),
      ),
    ),
  );
}

let drift: { windows: Window[]; alerts: Alert[] } = { windows: [], alerts: [] };
async function loadDrift(): Promise<void> {
  const model = $<HTMLInputElement>('drift-model').value.trim();
  try {
    drift = await api<{ windows: Window[]; alerts: Alert[] }>(`/api/data/drift${model ? `?model=${encodeURIComponent(model)}` : ''}`);
    drawDrift(drift.windows, drift.alerts);
  } catch (err) {
    showError($('drift-summary'), 'Could not read the drift windows', err);
  }
}

$<HTMLSelectElement>('batch-filter').addEventListener('change', () => void loadBatches());
$<HTMLInputElement>('drift-model').addEventListener('change', () => void loadDrift());
$<HTMLSelectElement>('drift-version').addEventListener('change', () => drawDrift(drift.windows, drift.alerts));
await Promise.all([loadBatches(), loadVersions(), loadDrift()]);
