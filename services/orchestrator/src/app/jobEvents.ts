import { artefactPrefixProblem, type Envelope, type Job } from '@mlpipe/contracts';
import { NotFoundError, ValidationError } from '@mlpipe/common';
import type { Repositories } from '../adapters/repositories';
import type { Retraining } from './retraining';
import type { SweepService } from './sweepService';

/** A job that ended must be one of ours: an event about an unknown job is a poison message. */
function known(job: Job | undefined, jobId: string): Job {
  if (!job) throw new NotFoundError(`no job ${jobId}`);
  return job;
}

/**
 * Following a job from the trainer's events to its registered model: one handler per event. Each
 * records the event on the job's state machine, then lets the sweep and the retraining policy look
 * at the job as it now stands.
 */
export class JobEvents {
  constructor(
    private readonly repos: Pick<Repositories, 'jobs' | 'models'>,
    private readonly sweeps: SweepService,
    private readonly retraining: Retraining,
  ) {}

  async started(e: Envelope<'train.job.started'>): Promise<void> {
    const d = e.data;
    const reason = d.resumedFromEpoch
      ? `attempt ${d.attempt} on ${d.replicaId} resumed after epoch ${d.resumedFromEpoch}`
      : `attempt ${d.attempt} on ${d.replicaId} (${d.backend})`;
    await this.repos.jobs.signal(d.jobId, 'started', { reason, countAttempt: true });
  }

  async progress(e: Envelope<'train.job.progress'>): Promise<void> {
    const d = e.data;
    const job = await this.repos.jobs.signal(d.jobId, 'started', { progress: d.metrics });
    await this.sweeps.onTrialProgress(job, d.metrics.epoch);
  }

  async completed(e: Envelope<'train.job.completed'>): Promise<void> {
    const d = e.data;
    const acc = d.evaluation.testAccuracy.toFixed(4);
    const next = d.sweep ? `trial ${d.sweep.trial} of sweep ${d.sweep.sweepId}; only the sweep's best is registered` : 'awaiting registration';
    const job = await this.repos.jobs.signal(d.jobId, 'succeeded', { reason: `test accuracy ${acc}; ${next}` });
    await this.sweeps.onTrialEnded(job);
  }

  async failed(e: Envelope<'train.job.failed'>): Promise<void> {
    const d = e.data;
    const job = await this.repos.jobs.signal(d.jobId, d.retryable ? 'retrying' : 'failed', { reason: d.error });
    if (!d.retryable) await this.retraining.afterJobEnded(known(job, d.jobId));
    await this.sweeps.onTrialEnded(job);
  }

  async cancelled(e: Envelope<'train.job.cancelled'>): Promise<void> {
    const d = e.data;
    // A job someone cancelled keeps who asked and why; the trainer's word adds where it stopped.
    const job = await this.repos.jobs.signal(d.jobId, 'cancelled', { reason: `stopped at epoch ${d.atEpoch}`, addToEarlierReason: true });
    await this.sweeps.onTrialEnded(job);
  }

  async modelRegistered(e: Envelope<'model.version.registered'>): Promise<void> {
    const d = e.data;
    // The prefix becomes the next jobs' baseline: one outside the version's own job folder is dead-lettered, never kept.
    const problem = artefactPrefixProblem(d.artefactPrefix, { kind: 'model', modelName: d.modelName, jobId: d.jobId });
    if (problem) throw new ValidationError(`${d.modelName} v${d.version} was announced with artefacts outside its own folder: ${problem}`);
    await this.repos.models.recordVersion(d);
    if (d.decision.outcome === 'champion') await this.repos.models.setChampion(d.modelName, d.version);
    const job = await this.repos.jobs.signal(d.jobId, 'succeeded', {
      modelVersion: d.version,
      reason: `registered as ${d.modelName} v${d.version} (${d.decision.outcome}): ${d.decision.reason}`,
    });
    await this.retraining.afterJobEnded(known(job, d.jobId));
  }

  async aliasChanged(e: Envelope<'model.alias.changed'>): Promise<void> {
    if (e.data.alias === 'champion') await this.repos.models.setChampion(e.data.modelName, e.data.version);
  }
}
