import type { LabelledImages } from '@mlpipe/contracts';
import { assistJob, DEFAULT_DP_SETTINGS } from '../adapters/distributed';
import type { RunnerDeps, RunOptions } from './deps';
import { ShutdownAbort } from './shutdownAbort';

/** Rank ≥ 1: train with the job's group; the coordinating replica reports and stores everything. */
export async function assist(run: RunOptions, train: LabelledImages, deps: RunnerDeps): Promise<'assisted' | 'cancelled'> {
  const { job } = run;
  const log = deps.logger.child({ jobId: job.jobId, rank: job.rank });
  const result = await assistJob({
    bus: deps.bus,
    job,
    replicaId: deps.replicaId,
    logger: log,
    train,
    settings: deps.dp ?? DEFAULT_DP_SETTINGS,
    signal: run.signal,
    ...(deps.onFrameDropped ? { onDropped: deps.onFrameDropped } : {}),
    ...(deps.onRingFallback ? { onRingFallback: deps.onRingFallback } : {}),
    onStep: (t) => {
      run.heartbeat();
      deps.onStepTiming?.(job.jobId, t);
    },
  });
  if (run.signal.aborted && run.signal.reason instanceof ShutdownAbort) throw run.signal.reason;
  log.info({ outcome: result.outcome, reason: result.reason }, 'left the training group');
  return result.outcome === 'aborted' ? 'cancelled' : 'assisted';
}
