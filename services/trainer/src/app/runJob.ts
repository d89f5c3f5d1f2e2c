import { publishEvent } from '@mlpipe/bus';
import type { RunnerDeps, RunOptions } from './deps';
import { assist } from './assist';
import { finishJob } from './finish';
import { prepareJob } from './prepare';
import { pruneEndedJobCheckpoints } from './pruneCheckpoints';
import { ShutdownAbort } from './shutdownAbort';
import { trainPrepared } from './train';

export type { RunnerDeps, RunOptions } from './deps';
export { ShutdownAbort };

/** `assisted`: a worker replica (rank ≥ 1) helped its group until the group finished. */
export type RunOutcome = 'completed' | 'cancelled' | 'assisted';


/**
 * Runs one attempt of one job: prepare (data, the last checkpoint if any, the model), train (alone
 * or as the coordinator of a data-parallel group) with a checkpoint and a progress event per epoch,
 * then finish (evaluate, store the artefacts, announce the result). A replica of rank ≥ 1 only
 * assists its group. Every event id is derived from job, attempt and epoch, so a replayed attempt
 * publishes nothing twice.
 */
export async function runJob(run: RunOptions, deps: RunnerDeps): Promise<RunOutcome> {
  const { job, signal } = run;
  const prepared = await prepareJob(run, deps);
  if (prepared.role === 'assist') return assist(run, prepared.train, deps);
  try {
    const group = await trainPrepared(prepared, deps);
    if (signal.aborted) throw signal.reason;
    await finishJob(prepared, group, deps);
    await pruneEndedJobCheckpoints(deps.store, job.jobId, 'completed', prepared.log);
    return 'completed';
  } catch (err) {
    if (!signal.aborted || signal.reason instanceof ShutdownAbort) throw err;
    const atEpoch = prepared.history.at(-1)?.epoch ?? 0;
    await publishEvent(
      deps.bus,
      'train.job.cancelled',
      { jobId: job.jobId, replicaId: deps.replicaId, atEpoch },
      { source: prepared.source, eventId: `train.job.cancelled:${job.jobId}` },
    );
    prepared.log.info({ atEpoch }, 'job cancelled');
    await pruneEndedJobCheckpoints(deps.store, job.jobId, 'cancelled', prepared.log);
    return 'cancelled';
  } finally {
    prepared.model.dispose();
  }
}
