import { api as call, type Session } from '../session';
import { mountShell } from '../shell';
import { $, el } from '../dom';

// The jobs page: submit a job with its main hyperparameters, replicas, gradient compression and exchange;
// the job list with live per-epoch progress (throughput and the group's members from the trainers'
// own events); cancel a queued or running job. Every failure is shown in words.

type Progress = { epoch: number; epochs: number; valAccuracy?: number; samplesPerSec?: number };
type TrainEvent = { type: string; data: { jobId: string; metrics?: Progress; members?: string[]; replicaId?: string; reason?: string } };
type Job = {
  jobId: string;
  status: string;
  hyperparams: { arch: string; compression?: string; exchange?: string };
  replicas: number;
  lastProgress: Progress | null;
  modelVersion: number | null;
  statusReason: string | null;
};

const rows = new Map<string, HTMLTableRowElement>();
/** What only the live events carry (the orchestrator keeps the metrics, not who trained the step). */
const members = new Map<string, string[]>();
const live = new Map<string, Progress>();
/** Every epoch seen live per job, for the progress cell's tooltip (epoch by epoch, the last report of each). */
const trail = new Map<string, Map<number, Progress>>();

const session: Session = await mountShell();

const progressText = (p: Progress | null | undefined) =>
  p
    ? `epoch ${p.epoch}/${p.epochs}${p.valAccuracy !== undefined ? `, val ${(p.valAccuracy * 100).toFixed(2)}%` : ''}${p.samplesPerSec !== undefined ? `, ${Math.round(p.samplesPerSec)} samples/s` : ''}`
    : '';

function groupText(job: Job): string {
  const who = members.get(job.jobId);
  const { compression, exchange } = job.hyperparams;
  const how = [compression && compression !== 'none' ? compression : '', exchange === 'ring' ? 'ring' : ''].filter(Boolean).join(', ');
  return `${job.replicas}${how ? ` (${how})` : ''}${who?.length ? ` · ${who.join(', ')}` : ''}`;
}

/** A job's row, made once and updated in place: a button under the pointer is not replaced by every live event. */
function row(job: Job): HTMLTableRowElement {
  let tr = rows.get(job.jobId);
  if (!tr) {
    tr = el('tr', { 'data-job': job.jobId }, ...Array.from({ length: 8 }, () => el('td')));
    rows.set(job.jobId, tr);
  }
  tr.dataset.status = job.status;
  // The newest progress wins: a live event may be ahead of what the orchestrator has recorded.
  const p = [live.get(job.jobId), job.lastProgress].filter((x): x is Progress => !!x).sort((a, b) => b.epoch - a.epoch)[0];
  const texts = [job.jobId, job.status, job.hyperparams.arch, progressText(p), job.modelVersion ? `v${job.modelVersion}` : '', groupText(job), job.statusReason ?? ''];
  const cells = Array.from(tr.children) as HTMLTableCellElement[];
  texts.forEach((text, i) => {
    if (cells[i]!.textContent !== text) cells[i]!.textContent = text;
  });
  const epochs = [...(trail.get(job.jobId)?.values() ?? [])].sort((a, b) => a.epoch - b.epoch);
  cells[3]!.title = epochs.map(progressText).join('\n');
  const actions = cells[7]!;
  // Cancel only for roles that may (operator and up), and only while it can still end.
  const cancellable = (job.status === 'queued' || job.status === 'running') && session.can.operate;
  const button = actions.querySelector('button');
  if (!cancellable) button?.remove();
  else if (!button) {
    const cancel = el('button', { type: 'button', class: 'cancel' }, 'Cancel');
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      call(`/api/jobs/${encodeURIComponent(job.jobId)}/cancel`, {})
        .then(refresh)
        .catch((err: Error) => {
          cancel.disabled = false;
          $('submit-status').textContent = `Could not cancel ${job.jobId}: ${err.message}`;
        });
    });
    actions.append(cancel);
  }
  return tr;
}

let jobs: Job[] = [];
async function refresh(): Promise<void> {
  try {
    ({ jobs } = await call<{ jobs: Job[] }>('/api/jobs'));
    const body = $<HTMLTableElement>('jobs').tBodies[0]!;
    const wanted = jobs.map(row);
    // Only when the set or order changed: rows stay where they are (and keep focus) between refreshes.
    if (wanted.some((tr, i) => body.children[i] !== tr) || body.children.length !== wanted.length) body.replaceChildren(...wanted);
  } catch (err) {
    $('live').textContent = `(could not list the jobs: ${(err as Error).message})`;
  }
}

/** The form as a job request; a number the browser could not read is said so rather than sent. */
function requestOf(form: FormData): { hyperparams: Record<string, unknown>; replicas: number; reason: string } {
  const num = (name: string) => {
    const v = Number(form.get(name));
    if (!Number.isFinite(v)) throw new Error(`${name} is not a number`);
    return v;
  };
  return {
    hyperparams: {
      arch: form.get('arch'),
      epochs: num('epochs'),
      batchSize: num('batchSize'),
      learningRate: num('learningRate'),
      compression: form.get('compression'),
      exchange: form.get('exchange'),
      trainSubset: num('trainSubset'),
    },
    replicas: num('replicas'),
    reason: 'submitted from the web UI',
  };
}

$<HTMLFormElement>('submit').addEventListener('submit', (e) => {
  e.preventDefault();
  const out = $('submit-status');
  let body;
  try {
    body = requestOf(new FormData(e.target as HTMLFormElement));
  } catch (err) {
    out.textContent = `Not submitted: ${(err as Error).message}`;
    return;
  }
  call<Job>('/api/jobs', body)
    .then((job) => {
      out.textContent = `Submitted ${job.jobId}`;
      return refresh();
    })
    .catch((err: Error) => (out.textContent = `Not submitted: ${err.message}`));
});

// Live progress: the server relays the trainers' events as server-sent events.
const events = new EventSource('/api/jobs/events');
events.onopen = () => ($('live').textContent = '(live)');
events.onerror = () => ($('live').textContent = '(live updates interrupted; reconnecting…)');
events.onmessage = (message: MessageEvent<string>) => {
  const event = JSON.parse(message.data) as TrainEvent;
  const { jobId } = event.data;
  const job = jobs.find((j) => j.jobId === jobId);
  // A trainer took it: running from now on, whatever the orchestrator's last list said.
  if (event.type === 'train.job.started' && job?.status === 'queued') job.status = 'running';
  if (event.type === 'train.job.progress' && event.data.metrics) {
    live.set(jobId, event.data.metrics);
    const seen = trail.get(jobId) ?? new Map<number, Progress>();
    trail.set(jobId, seen.set(event.data.metrics.epoch, event.data.metrics));
    if (event.data.members?.length) members.set(jobId, event.data.members);
    else if (event.data.replicaId) members.set(jobId, [event.data.replicaId]);
  }
  // Show it at once from the event itself; the list catches up once the orchestrator has recorded it.
  if (job) row(job);
  setTimeout(() => void refresh(), 1000);
};
void refresh();
