import { api as call, type Session } from '../session';
import { mountShell } from '../shell';

type TrainEvent = { type: string; data: { jobId: string; metrics?: { epoch: number; epochs: number; valAccuracy?: number } } };
type Job = { jobId: string; status: string; hyperparams: { arch: string }; lastProgress: { epoch: number; epochs: number; valAccuracy?: number } | null; modelVersion: number | null; statusReason: string | null };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const rows = new Map<string, HTMLTableRowElement>();

// Who is signed in decides which buttons the page offers.
const session: Session = await mountShell();

const progressText = (p: { epoch: number; epochs: number; valAccuracy?: number } | null) =>
  p ? `epoch ${p.epoch}/${p.epochs}${p.valAccuracy !== undefined ? `, val ${(p.valAccuracy * 100).toFixed(2)}%` : ''}` : '';

function row(job: Job): HTMLTableRowElement {
  const tr = rows.get(job.jobId) ?? document.createElement('tr');
  tr.dataset.job = job.jobId;
  const cells = [job.jobId, job.status, job.hyperparams.arch, progressText(job.lastProgress), job.modelVersion ? `v${job.modelVersion}` : ''];
  tr.replaceChildren(...cells.map((text) => Object.assign(document.createElement('td'), { textContent: text })));
  const actions = document.createElement('td');
  // Cancel only for roles that may (operator and up).
  if ((job.status === 'queued' || job.status === 'running') && session.can.operate) {
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
events.onmessage = (message: MessageEvent<string>) => {
  // Show progress at once from the event itself; the job list catches up once the orchestrator has recorded it.
  const event = JSON.parse(message.data) as TrainEvent;
  const cell = rows.get(event.data.jobId)?.children[3];
  if (event.type === 'train.job.progress' && cell && event.data.metrics) cell.textContent = progressText(event.data.metrics);
  setTimeout(() => void refresh(), 1000);
};
void refresh();
