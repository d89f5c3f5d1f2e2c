import { request, streamNameOf } from '@mlpipe/bus';
import { describeError, eventually, ValidationError } from '@mlpipe/common';
import type { Hyperparams, Job } from '@mlpipe/contracts';
import type { Cluster } from './cluster';
import { deadLetters, streamEvents } from './events';
import type { ServiceProcess } from './services';

/**
 * What a scenario asks of the system from outside, as an operator would: through the orchestrator's
 * request API, the registry's REST API, the streams and each trainer's /metrics. Every probe
 * tolerates the outage it may run into (it retries until its deadline).
 */

/** Small jobs: cnn-small on a few thousand samples, so a job takes well under a minute undisturbed. */
export const CHAOS_JOB: Partial<Hyperparams> = { arch: 'cnn-small', epochs: 3, batchSize: 32, trainSubset: 12000, testSubset: 5000 };
/** The job that shows every replica is free afterwards: it needs two of them. */
export const FOLLOWING_JOB: Partial<Hyperparams> = { arch: 'cnn-small', epochs: 1, batchSize: 32, trainSubset: 2000, testSubset: 1000 };

/** Submits until the orchestrator accepts; any world with a bus and a dataset version (the chaos cluster, the multihost world). */
export async function submitJob(c: Pick<Cluster, 'bus' | 'datasetVersion'>, hyperparams: Partial<Hyperparams>, replicas: number, reason = 'chaos'): Promise<Job> {
  // Until the orchestrator has recorded the dataset version, a submit is refused as invalid: ask again.
  return eventually(
    () =>
      request(c.bus, 'orchestrator.jobs.submit', { datasetVersion: c.datasetVersion, hyperparams, replicas, reason }).catch((err: unknown) => {
        if (err instanceof ValidationError && !/not known|no validated/.test(err.message)) throw err;
        return undefined;
      }),
    60_000,
    'the orchestrator to accept a job',
  );
}

export async function getJob(c: Cluster, jobId: string): Promise<Job | undefined> {
  return request(c.bus, 'orchestrator.jobs.get', { jobId }, 3000).catch(() => undefined);
}

/** Waits for the job to end; a job still running at the deadline comes back as it stands. */
export async function waitForJobEnd(c: Cluster, jobId: string, timeoutMs: number): Promise<Job | undefined> {
  const end = Date.now() + timeoutMs;
  let last: Job | undefined;
  while (Date.now() < end) {
    last = (await getJob(c, jobId)) ?? last;
    if (last && ((last.status === 'succeeded' && last.modelVersion !== null) || last.status === 'failed' || last.status === 'cancelled')) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return last;
}

export interface RegisteredVersion {
  version: number;
  runId: string;
}

/** The registry's versions of the job (REST: GET /models/mnist), undefined while it cannot answer. */
export async function versionsOfJob(c: Cluster, jobId: string): Promise<RegisteredVersion[] | undefined> {
  try {
    const res = await fetch(`${c.registry.url}/models/mnist`, { signal: AbortSignal.timeout(3000) });
    if (res.status === 404) return [];
    if (!res.ok) return undefined;
    const body = (await res.json()) as { versionList: RegisteredVersion[] };
    return body.versionList.filter((v) => v.runId === jobId);
  } catch {
    return undefined;
  }
}

/** model.version.registered events of the job in the MODEL stream (a second registration would show here too). */
export async function registrationsOfJob(c: Cluster, jobId: string): Promise<number> {
  return (await streamEvents(c.bus, 'MODEL', 'model.version.registered', jobId)).length;
}

export async function deadLetterCount(c: Cluster): Promise<{ count: number; reasons: string[] }> {
  const letters = await deadLetters(c.bus);
  return { count: letters.length, reasons: letters.map((l) => `${l.originalSubject} (${l.consumer}, ${l.deliveries} deliveries): ${l.reason}`) };
}

/** The trainers' shared queue consumer as the server sees it: undelivered, unacknowledged, and pull requests waiting. */
async function trainerQueue(c: Cluster): Promise<string> {
  try {
    const info = await c.bus.jsm.consumers.info(streamNameOf(c.namespace, 'TRAIN'), 'trainer-jobs');
    return `durable trainer-jobs: ${info.num_pending} undelivered, ${info.num_ack_pending} unacknowledged, ${info.num_waiting} pull request(s) waiting`;
  } catch (err) {
    return `durable trainer-jobs: ${describeError(err)}`;
  }
}

/** The trainer's own gauge of jobs and group memberships it holds (undefined while it does not answer). */
export async function runningJobs(t: ServiceProcess): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${t.url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const m = /^mlpipe_trainer_running_jobs(?:\{[^}]*\})?\s+(\S+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until every trainer replica holds nothing; returns what each held at the end. */
export async function waitForTrainersFree(c: Cluster, timeoutMs: number): Promise<{ free: boolean; held: Record<string, number | undefined> }> {
  const end = Date.now() + timeoutMs;
  let held: Record<string, number | undefined> = {};
  while (Date.now() < end) {
    held = Object.fromEntries(await Promise.all(c.trainers.map(async (t) => [t.id, await runningJobs(t)] as const)));
    if (Object.values(held).every((n) => n === 0)) return { free: true, held };
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { free: false, held };
}

/**
 * A small two-replica job run to its registered version, trained by two replicas: both take work
 * again (a replica that looks free but no longer receives jobs leaves the group at one member).
 */
export async function runFollowingJob(c: Cluster, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  try {
    const job = await submitJob(c, FOLLOWING_JOB, 2, 'chaos: the following job');
    // Mid-way through the coordinator's join window: whether a free replica is pulling from the queue.
    const queue = new Promise<string>((resolve) => setTimeout(() => void trainerQueue(c).then(resolve), 12_000));
    const end = await waitForJobEnd(c, job.jobId, timeoutMs);
    if (end?.status !== 'succeeded' || end.modelVersion === null) {
      return { ok: false, detail: `${job.jobId} is ${end?.status ?? 'unknown'} after ${timeoutMs / 1000} s: ${end?.statusReason ?? ''}` };
    }
    const completed = (await streamEvents(c.bus, 'TRAIN', 'train.job.completed', job.jobId))[0];
    const members = completed?.data.distributed?.finalMembers ?? [];
    const detail = `${job.jobId} → v${end.modelVersion}, trained by ${members.join(' and ') || 'nobody known'}`;
    return { ok: members.length === 2, detail: members.length === 2 ? detail : `${detail}: the other replica joined no group (12 s after the submit, ${await queue})` };
  } catch (err) {
    return { ok: false, detail: describeError(err) };
  }
}
