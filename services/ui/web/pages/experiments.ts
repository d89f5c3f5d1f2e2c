import { mountShell } from '../shell';

type Run = { runId: string; status: string; params: { arch: string; epochs: number; batchSize: number; learningRate: number } };
type Metric = { key: string; step: number; value: number };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path);
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

/** A tiny inline chart of one metric over epochs. */
function sparkline(points: number[]): string {
  if (!points.length) return '';
  const w = 120;
  const h = 28;
  const min = Math.min(...points);
  const max = Math.max(...points);
  const xy = points.map((v, i) => `${(i / Math.max(1, points.length - 1)) * w},${h - ((v - min) / (max - min || 1)) * (h - 4) - 2}`);
  return `<svg width="${w}" height="${h}" aria-label="curve"><polyline fill="none" stroke="#0b63ce" stroke-width="2" points="${xy.join(' ')}"/></svg>`;
}

async function render(): Promise<void> {
  const sort = $<HTMLSelectElement>('sort').value;
  const [{ runs }, model] = await Promise.all([
    get<{ runs: Run[] }>(`/api/registry/experiments/mnist/runs?sort=${sort}&order=${sort === 'loss' ? 'asc' : 'desc'}`),
    get<{ aliases: Record<string, number> }>('/api/registry/models/mnist').catch(() => ({ aliases: {} })),
  ]);
  $<HTMLParagraphElement>('aliases').textContent = Object.entries(model.aliases).map(([a, v]) => `${a} → v${v}`).join(' · ') || 'no aliases yet';
  const rows = await Promise.all(
    runs.map(async (r) => {
      const { metrics } = await get<{ metrics: Metric[] }>(`/api/registry/runs/${encodeURIComponent(r.runId)}/metrics`);
      const value = metrics.filter((m) => m.key === sort).at(-1)?.value;
      const curve = metrics.filter((m) => m.key === 'val_accuracy').sort((a, b) => a.step - b.step).map((m) => m.value);
      const tr = document.createElement('tr');
      tr.innerHTML = `<td></td><td></td><td></td><td>${r.params.epochs}</td><td>${r.params.batchSize}</td><td>${r.params.learningRate}</td><td>${value === undefined ? '–' : value.toFixed(4)}</td><td>${sparkline(curve)}</td>`;
      const cells = tr.querySelectorAll('td');
      (cells[0] as HTMLElement).textContent = r.runId;
      (cells[1] as HTMLElement).textContent = r.status;
      (cells[2] as HTMLElement).textContent = r.params.arch;
      return tr;
    }),
  );
  $<HTMLTableElement>('runs').tBodies[0]!.replaceChildren(...rows);
}

$<HTMLSelectElement>('sort').addEventListener('change', () => void render());
void render().catch((err: Error) => ($<HTMLParagraphElement>('aliases').textContent = `Could not load runs: ${err.message}`));
void mountShell();
