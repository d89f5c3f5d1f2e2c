export {}; // a module: its names stay out of the global scope

type Job = { jobId: string; status: string; hyperparams: { arch: string }; lastProgress: { epoch: number; epochs: number; valAccuracy?: number } | null; modelVersion: number | null; statusReason: string | null };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const rows = new Map<string, HTMLTableRowElement>();

async function call<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

function row(job: Job): HTMLTableRowElement {
  const tr = rows.get(job.jobId) ?? document.createElement('tr');
  tr.dataset.job = job.jobId;
  const p = job.lastProgress;
  const cells = [job.jobId, job.status, job.hyperparams.arch, p ? `epoch ${p.epoch}/${p.epochs}${p.valAccuracy !== undefined ? `, val ${(p.valAccuracy * 100).toFixed(2)}%` : ''}` : '', job.modelVersion ? `v${job.modelVersion}` : ''];
  tr.replaceChildren(...cells.map((text) => Object.assign(document.createElement('td'), { textContent: text })));
  const actions = document.createElement('td');
  if (job.status === 'queued' || job.status === 'running') {
    const cancel = Object.assign(document.createElement('button'), { textContent: 'Cancel' });
    cancel.addEventListener('click', () => void call(`/api/jobs/${encodeURIComponent(job.jobId)}/cancel`, {}).then(refresh));
    actions.append(cancel);
  }
  tr.append(actions);
  rows.set(job.jobId, tr);
  return tr;
}

async function refresh(): Promise<void> {
  const { jobs } = await call<{ jobs: Job[] }>('/api/jobs');
  $<HTMLTableElement>('jobs').tBodies[0]!.replaceChildren(...jobs.map(row));
}

$<HTMLFormElement>('submit').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = new FormData(e.target as HTMLFormElement);
  const hyperparams = { arch: form.get('arch'), epochs: Number(form.get('epochs')), trainSubset: Number(form.get('trainSubset')) };
  call<Job>('/api/jobs', { hyperparams, reason: 'submitted from the web UI' })
    .then((job) => {
      $<HTMLParagraphElement>('submit-status').textContent = `Submitted ${job.jobId}`;
      return refresh();
    })
    .catch((err: Error) => ($<HTMLParagraphElement>('submit-status').textContent = `Not submitted: ${err.message}`));
});

// Live progress: the server relays the jobs' training events as server-sent events.
const events = new EventSource('/api/jobs/events');
events.onopen = () => ($<HTMLElement>('live').textContent = '(live)');
events.onmessage = () => void refresh();
void refresh();
