import { request, streamNameOf } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import type { Envelope, EventType, Hyperparams, Job, StreamKey } from '@mlpipe/contracts';
import { deadLetters, readStream, storedEvents } from '../../chaos/harness/events';
import { submitJob } from '../../chaos/harness/probes';
import type { ServiceProcess } from '../../chaos/harness/services';
import type { Host } from './hosts';
import type { World } from './world';

export { submitJob };

/**
 * What a scenario asks of the world from outside, as an operator would (the orchestrator's request
 * API, the registry's REST API, the streams, the trainers' /metrics): the chaos harness's probes,
 * for a world whose services run on hosts. Each tolerates the fault it may meet (retries until its deadline).
 */

/** Small jobs: cnn-small on 2,000 samples, two epochs; global batch 48 so three replicas take 16 each. */
export const MULTIHOST_JOB: Partial<Hyperparams> = { arch: 'cnn-small', epochs: 2, batchSize: 48, trainSubset: 2400, testSubset: 1000, seed: 7 };

/** Waits for the job to end (succeeded with its version, failed or cancelled); still running at the deadline, it comes back as it stands. */
export async function waitForJobEnd(w: World, jobId: string, timeoutMs: number): Promise<Job | undefined> {
  const end = Date.now() + timeoutMs;
  let last: Job | undefined;
  while (Date.now() < end) {
    last = (await request(w.bus, 'orchestrator.jobs.get', { jobId }, 3000).catch(() => undefined)) ?? last;
    if (last && ((last.status === 'succeeded' && last.modelVersion !== null) || last.status === 'failed' || last.status === 'cancelled')) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return last;
}

/**
 * Waits for an event of the job in its stream. Read there, not from the live log: when the host of
 * the harness's own server is the one cut off, the live listener is deaf until it has reconnected
 * elsewhere, and an event published meanwhile is in the stream only.
 */
export async function waitForStored<T extends EventType>(w: World, key: StreamKey, type: T, jobId: string, timeoutMs: number, match: (e: Envelope<T>) => boolean): Promise<Envelope<T>> {
  const found = async () => (await storedEvents(w.bus, key, type, jobId).catch(() => [])).find(match);
  return eventually(found, timeoutMs, `${type} of job ${jobId} in its stream`, 1000);
}

/** The registry's versions of the job (GET /models/mnist), once it has one (or [] at the deadline). */
export async function versionsOfJob(w: World, jobId: string, timeoutMs = 30_000): Promise<number[]> {
  const read = async () => {
    const res = await fetch(`${w.registry.url}/models/mnist`, { signal: AbortSignal.timeout(3000) });
    if (res.status === 404) return [];
    const body = (await res.json()) as { versionList: { version: number; runId: string }[] };
    return body.versionList.filter((v) => v.runId === jobId).map((v) => v.version);
  };
  return eventually(async () => ((await read().catch(() => [])).length ? read() : undefined), timeoutMs, 'a registered version').catch(() => read().catch(() => []));
}

/**
 * "Nothing lost": every training and model event of the job the harness heard live is in its
 * stream (R3: whichever server was cut off or killed, the others kept it), none twice; and no
 * message was dead-lettered.
 */
export async function lostEvents(w: World, jobId: string): Promise<{ heard: number; missing: string[]; duplicated: string[]; deadLetters: string[] }> {
  const heard = [...w.events.of('train.job.started', jobId), ...w.events.of('train.job.progress', jobId), ...w.events.of('train.job.completed', jobId), ...w.events.of('model.version.registered', jobId)].map((s) => s.envelope);
  const stored = new Map<string, number>();
  for (const key of ['TRAIN', 'MODEL'] as const) {
    for (const m of await readStream(w.bus, key)) {
      const e = JSON.parse(new TextDecoder().decode(m.data)) as { eventId: string; data: { jobId?: string } };
      if (e.data.jobId === jobId) stored.set(e.eventId, (stored.get(e.eventId) ?? 0) + 1);
    }
  }
  const letters = await deadLetters(w.bus);
  return {
    heard: heard.length,
    missing: heard.filter((e) => !stored.has(e.eventId)).map((e) => `${e.type} ${e.eventId}`),
    duplicated: [...stored.entries()].filter(([, n]) => n > 1).map(([id]) => id),
    deadLetters: letters.map((l) => `${l.originalSubject}: ${l.reason}`),
  };
}

export async function runningJobs(t: ServiceProcess): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${t.url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const m = /^mlpipe_trainer_running_jobs(?:\{[^}]*\})?\s+(\S+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The job's per-epoch training losses as its progress events reported them (the last attempt's). */
export function epochLosses(w: World, jobId: string): number[] {
  const byEpoch = new Map<number, number>();
  for (const p of w.events.of('train.job.progress', jobId)) byEpoch.set(p.envelope.data.metrics.epoch, p.envelope.data.metrics.loss);
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map(([, loss]) => loss);
}

/**
 * Waits until `count` trainer replicas have a pull waiting on the shared job queue. Found here: on
 * the cluster, a free replica's fetch can stay unregistered at the consumer's leader (after the
 * consumer was made, or its leader moved) until the fetch expires and is repeated (30 s), and a
 * job submitted meanwhile starts with fewer replicas; a scenario that wants all of them waits.
 */
export async function waitForFreeReplicas(w: World, count: number, timeoutMs = 75_000): Promise<void> {
  await eventually(
    async () => {
      const c = await w.bus.jsm.consumers.info(streamNameOf(w.namespace, 'TRAIN'), 'trainer-jobs').catch(() => undefined);
      return c !== undefined && c.num_waiting >= count && c.num_ack_pending === 0;
    },
    timeoutMs,
    `${count} trainer replicas waiting for a job`,
  );
}

/**
 * The host whose NATS server the harness's own connection is on. The live event log and the step tap
 * are core subscriptions of that connection: cut that host and they hear nothing until the client
 * notices and moves to another server, so a scenario cuts a host other than this one when it can.
 */
export function harnessHost(w: World): Host | undefined {
  const at = w.bus.nc.getServer();
  return at ? w.nats.servers.find((s) => s.url.endsWith(`//${at}`))?.host : undefined;
}
