import { expect } from 'vitest';
import type { Job } from '@mlpipe/contracts';
import { streamEvents } from '../../chaos/harness/events';
import { lostEvents, versionsOfJob, waitForJobEnd } from './probes';
import type { World } from './world';

export interface JobOutcome {
  job: Job | undefined;
  versions: number[];
  finalMembers: string[];
  attempts: number;
}

/**
 * The three checks of every multihost scenario (issue 16): the job finished (succeeded with a
 * version), exactly one version is registered for it (in the registry and as events), and nothing
 * was lost (every event heard live is in its R3 stream, none twice, no dead letter). Soft
 * assertions, so each is reported; on a failure the services' log tails are printed.
 */
export async function expectJobDone(w: World, jobId: string, timeoutMs: number): Promise<JobOutcome> {
  const job = await waitForJobEnd(w, jobId, timeoutMs);
  const versions = job?.status === 'succeeded' ? await versionsOfJob(w, jobId) : [];
  const registered = await streamEvents(w.bus, 'MODEL', 'model.version.registered', jobId).catch(() => []);
  const completed = (await streamEvents(w.bus, 'TRAIN', 'train.job.completed', jobId).catch(() => []))[0];
  const attempts = (await streamEvents(w.bus, 'TRAIN', 'train.job.started', jobId).catch(() => [])).length;
  // The live listener may hear the registration a moment after the orchestrator reports success.
  await new Promise((r) => setTimeout(r, 1000));
  const lost = await lostEvents(w, jobId);
  const ok = job?.status === 'succeeded' && versions.length === 1 && registered.length === 1 && lost.missing.length === 0 && lost.duplicated.length === 0 && lost.deadLetters.length === 0;
  if (!ok) console.log(`multihost: job ${jobId} checks failed; logs in ${w.logDir}\n${w.logTails()}`);
  expect.soft(job?.status, `job ${jobId}: ${job?.statusReason ?? 'no status'}`).toBe('succeeded');
  expect.soft(versions, 'versions in the registry').toHaveLength(1);
  expect.soft(registered.length, 'model.version.registered events').toBe(1);
  expect.soft(lost.heard, 'events heard live').toBeGreaterThan(2);
  expect.soft(lost.missing, 'events heard live but not in their stream').toEqual([]);
  expect.soft(lost.duplicated, 'events stored twice').toEqual([]);
  expect.soft(lost.deadLetters, 'dead letters').toEqual([]);
  return { job, versions, finalMembers: completed?.data.distributed?.finalMembers ?? [], attempts };
}
