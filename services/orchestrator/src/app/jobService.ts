import { randomBytes } from 'node:crypto';
import { HyperparamsSchema, hyperparamsConflict, type DatasetVersion, type Hyperparams, type Job, type ParsedRequestOf, type TrialRef, type Trigger } from '@mlpipe/contracts';
import { ConflictError, QuotaExceededError, ValidationError, type Logger } from '@mlpipe/common';
import { isTerminal } from '../core/jobState';
import { checkActiveJobs, checkJobSize, principalOf, type QuotaLimits, type QuotaVerdict } from '../core/quota';
import type { Repositories, Transaction } from '../adapters/repositories';
import { newId } from './ids';

/** What a new job is: the retraining flow, a person and a sweep each start them this way. */
export interface JobStart {
  idempotencyKey: string;
  modelName: string;
  version: DatasetVersion;
  hyperparams: Hyperparams;
  replicas: number;
  trigger: Trigger;
  sweep?: TrialRef;
  submittedBy?: string;
}

/** A refused quota as the request's error: a cap can never pass (400), a busy principal may ask again later (429). */
export function enforceQuota(verdict: QuotaVerdict): void {
  if (verdict.ok) return;
  if (verdict.kind === 'busy') throw new QuotaExceededError(verdict.reason);
  throw new ValidationError(verdict.reason, { code: 'invalid' });
}

/**
 * Jobs by request: submit, cancel, and the one way a job starts. A job's row and its queue messages
 * commit together (the messages through the outbox), so a job is never left queued with nothing
 * on the queue.
 */
export class JobService {
  constructor(
    private readonly repos: Pick<Repositories, 'datasets' | 'transaction'>,
    private readonly logger: Logger,
    readonly quota: QuotaLimits,
  ) {}

  /** A job by request, within the caps and the principal's quota of active jobs (checked and created in one transaction). */
  async submit(req: ParsedRequestOf<'orchestrator.jobs.submit'>): Promise<Job> {
    const hyperparams = HyperparamsSchema.parse(req.hyperparams);
    const conflict = hyperparamsConflict(hyperparams);
    if (conflict) throw new ValidationError(conflict, { code: 'invalid' });
    enforceQuota(checkJobSize(this.quota, hyperparams, req.replicas));
    const version = await this.trainableVersion(req.dataset, req.datasetVersion);
    const submittedBy = principalOf(req.submittedBy);
    const { job, created } = await this.repos.transaction(async (tx) => {
      await this.reserve(tx, submittedBy, 1);
      return this.createJob(tx, {
        idempotencyKey: `manual:${randomBytes(8).toString('hex')}`,
        modelName: req.modelName,
        version,
        hyperparams,
        replicas: req.replicas,
        trigger: { kind: 'manual', reason: req.reason },
        submittedBy,
      });
    });
    if (created) this.logger.info({ jobId: job.jobId, trigger: job.trigger, submittedBy }, 'job created');
    return job;
  }

  /** Refuses (QuotaExceededError) unless `adding` more jobs fit in the principal's quota; call it on the transaction that creates them. */
  async reserve(tx: Transaction, principal: string, adding: number): Promise<void> {
    const active = await tx.jobs.countActiveLocked(principal);
    enforceQuota(checkActiveJobs(this.quota, principal, active, adding));
  }

  /** Marks the job cancelled and asks its trainer to stop (one request per job: the id de-duplicates). */
  async cancel(jobId: string, reason: string): Promise<Job> {
    return this.repos.transaction(async (tx) => {
      const job = await tx.jobs.get(jobId);
      if (isTerminal(job.status)) throw new ConflictError(`job ${jobId} is already ${job.status}`);
      const updated = await tx.jobs.signal(jobId, 'cancelled', { reason });
      await tx.enqueue('train.job.cancel-requested', { jobId, reason }, `train.job.cancel-requested:${jobId}`);
      return updated ?? job;
    });
  }

  /** The dataset version a submitted job or sweep trains on: the given one, else the newest; it needs both splits. */
  async trainableVersion(dataset: DatasetVersion['dataset'], id: string | undefined): Promise<DatasetVersion> {
    const version = id ? await this.findVersion(dataset, id) : await this.repos.datasets.latest(dataset);
    if (!version) throw new ValidationError(`no validated ${dataset} data yet: seed it with "mlpipe-data seed ${dataset}"`);
    if (!version.trainSamples || !version.testSamples) {
      throw new ValidationError(`dataset version ${version.id.slice(0, 12)} lacks a train or test split`);
    }
    return version;
  }

  /** Creates the job once per idempotency key, with one queue message per replica. */
  async startJob(args: JobStart): Promise<Job> {
    const { job, created } = await this.repos.transaction((tx) => this.createJob(tx, args));
    if (created) this.logger.info({ jobId: job.jobId, trigger: job.trigger }, 'job created');
    return job;
  }

  /** startJob on the caller's transaction, so the job commits with the caller's rows (a sweep with its trials). */
  async createJob(tx: Transaction, args: JobStart): Promise<{ job: Job; created: boolean }> {
    const { job, created } = await tx.jobs.createOnce({
      jobId: newId('job'),
      idempotencyKey: args.idempotencyKey,
      modelName: args.modelName,
      dataset: args.version.dataset,
      datasetVersion: args.version.id,
      hyperparams: args.hyperparams,
      replicas: args.replicas,
      trigger: args.trigger,
      ...(args.sweep ? { sweep: args.sweep } : {}),
      ...(args.submittedBy ? { submittedBy: args.submittedBy } : {}),
    });
    if (job.status === 'queued') await this.queue(tx, job);
    return { job, created };
  }

  private async findVersion(dataset: DatasetVersion['dataset'], id: string): Promise<DatasetVersion> {
    const version = await this.repos.datasets.get(id);
    if (version?.dataset === dataset) return version;
    throw new ValidationError(`dataset version ${id} of ${dataset} is not known to the orchestrator`);
  }

  /**
   * One message per replica: rank 0 coordinates the data-parallel group, ranks 1.. join it (any idle
   * trainer takes one). Enqueued with the job's row; for a job that already existed too, which costs
   * nothing (the outbox keeps one row per event id) and re-sends a request whose outbox row was
   * pruned. The deterministic ids let JetStream drop duplicates.
   */
  private async queue(tx: Transaction, job: Job): Promise<void> {
    const champion = await tx.models.champion(job.modelName);
    const baseline = champion?.artefactPrefix ? { version: champion.version, artefactPrefix: champion.artefactPrefix } : undefined;
    const groupKey = await tx.jobs.groupKey(job.jobId);
    for (let rank = 0; rank < job.replicas; rank++) {
      await tx.enqueue(
        'train.job.requested',
        {
          jobId: job.jobId,
          modelName: job.modelName,
          dataset: job.dataset,
          datasetVersion: job.datasetVersion,
          hyperparams: job.hyperparams,
          replicas: job.replicas,
          rank,
          trigger: job.trigger,
          ...(job.sweep ? { sweep: job.sweep } : {}),
          ...(baseline ? { baseline } : {}),
          groupKey,
        },
        rank === 0 ? `train.job.requested:${job.jobId}` : `train.job.requested:${job.jobId}:rank${rank}`,
      );
    }
  }
}
