import { randomBytes } from 'node:crypto';
import {
  HyperparamsSchema,
  type DatasetVersion,
  type Envelope,
  type Hyperparams,
  type Job,
  type ParsedRequestOf,
  type TrialRef,
  type Trigger,
} from '@mlpipe/contracts';
import { publishEvent, type Bus } from '@mlpipe/bus';
import { ConflictError, ValidationError, type Logger } from '@mlpipe/common';
import { decideRetrain } from '../core/policy';
import { isTerminal } from '../core/jobState';
import type { JobRepository } from './jobRepository';

export interface JobServiceSettings {
  minNewSamples: number;
  autoEnabled: boolean;
  autoModelName: string;
  autoHyperparams: Hyperparams;
  autoReplicas: number;
  minNewSamplesOnDrift: number;
}

const SOURCE = 'orchestrator';

export function newJobId(): string {
  return `job-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
}

/** What the orchestrator does in answer to events and requests; the bus and pg are its adapters. */
export class JobService {
  constructor(
    private readonly repo: JobRepository,
    private readonly bus: Bus,
    private readonly settings: JobServiceSettings,
    private readonly logger: Logger,
  ) {}

  /** Drift on a model's predictions: remembered until a retraining answers it, and the policy looks again. */
  async onDrift(e: Envelope<'data.drift.detected'>): Promise<Job | undefined> {
    const d = e.data;
    await this.repo.recordDrift(e.eventId, d.modelName, d.modelVersion, d.reasons);
    this.logger.warn({ model: d.modelName, version: d.modelVersion, reasons: d.reasons }, 'drift reported');
    const champion = await this.repo.champion(d.modelName);
    if (!champion) return undefined;
    const version = await this.repo.datasetVersion(champion.datasetVersion);
    return version ? this.maybeRetrain(version.dataset) : undefined;
  }

  async onDatasetVersion(version: DatasetVersion): Promise<Job | undefined> {
    await this.repo.recordDatasetVersion(version);
    return this.maybeRetrain(version.dataset);
  }

  /** Applies the retraining policy to the newest dataset version; starts at most one job. */
  async maybeRetrain(dataset: DatasetVersion['dataset']): Promise<Job | undefined> {
    const latest = await this.repo.latestDatasetVersion(dataset);
    if (!latest) return undefined;
    const modelName = this.settings.autoModelName;
    const decision = decideRetrain({
      latest,
      champion: await this.repo.champion(modelName),
      activeJob: await this.repo.hasActiveJob(modelName),
      jobExistsForVersion: await this.repo.jobExistsForVersion(modelName, latest.id),
      minNewSamples: this.settings.minNewSamples,
      enabled: this.settings.autoEnabled,
      drift: await this.repo.openDrift(modelName),
      minNewSamplesOnDrift: this.settings.minNewSamplesOnDrift,
    });
    if (!decision.start) {
      this.logger.info({ datasetVersion: latest.id, reason: decision.reason }, 'not retraining');
      return undefined;
    }
    const job = await this.startJob({
      idempotencyKey: `auto:${modelName}:${latest.id}`,
      modelName,
      version: latest,
      hyperparams: this.settings.autoHyperparams,
      replicas: this.settings.autoReplicas,
      trigger: decision.trigger,
    });
    if (decision.trigger.kind === 'drift') await this.repo.resolveDrift(modelName, job.jobId);
    return job;
  }

  async submit(req: ParsedRequestOf<'orchestrator.jobs.submit'>): Promise<Job> {
    const version = await this.trainableVersion(req.dataset, req.datasetVersion);
    return this.startJob({
      idempotencyKey: `manual:${randomBytes(8).toString('hex')}`,
      modelName: req.modelName,
      version,
      hyperparams: HyperparamsSchema.parse(req.hyperparams),
      replicas: req.replicas,
      trigger: { kind: 'manual', reason: req.reason },
    });
  }

  async cancel(jobId: string, reason: string): Promise<Job> {
    const job = await this.repo.get(jobId);
    if (isTerminal(job.status)) throw new ConflictError(`job ${jobId} is already ${job.status}`);
    await publishEvent(this.bus, 'train.job.cancel-requested', { jobId, reason }, { source: SOURCE });
    const updated = await this.repo.signal(jobId, 'cancelled', { reason });
    return updated ?? job;
  }

  async onTrainEvent(event: Envelope<'train.job.started' | 'train.job.progress' | 'train.job.completed' | 'train.job.failed' | 'train.job.cancelled'>): Promise<void> {
    const e = event as Envelope;
    switch (e.type) {
      case 'train.job.started': {
        const d = e.data as Envelope<'train.job.started'>['data'];
        const reason = d.resumedFromEpoch
          ? `attempt ${d.attempt} on ${d.replicaId} resumed after epoch ${d.resumedFromEpoch}`
          : `attempt ${d.attempt} on ${d.replicaId} (${d.backend})`;
        await this.repo.signal(d.jobId, 'started', { reason, countAttempt: true });
        return;
      }
      case 'train.job.progress': {
        const d = e.data as Envelope<'train.job.progress'>['data'];
        await this.repo.signal(d.jobId, 'started', { progress: d.metrics });
        return;
      }
      case 'train.job.completed': {
        const d = e.data as Envelope<'train.job.completed'>['data'];
        const acc = d.evaluation.testAccuracy.toFixed(4);
        const next = d.sweep ? `trial ${d.sweep.trial} of sweep ${d.sweep.sweepId}; only the sweep's best is registered` : 'awaiting registration';
        await this.repo.signal(d.jobId, 'succeeded', { reason: `test accuracy ${acc}; ${next}` });
        return;
      }
      case 'train.job.failed': {
        const d = e.data as Envelope<'train.job.failed'>['data'];
        await this.repo.signal(d.jobId, d.retryable ? 'retrying' : 'failed', { reason: d.error });
        if (!d.retryable) await this.afterJobEnded(d.jobId);
        return;
      }
      case 'train.job.cancelled': {
        const d = e.data as Envelope<'train.job.cancelled'>['data'];
        await this.repo.signal(d.jobId, 'cancelled', { reason: `stopped at epoch ${d.atEpoch}` });
        return;
      }
    }
  }

  async onModelRegistered(e: Envelope<'model.version.registered'>): Promise<void> {
    const d = e.data;
    await this.repo.recordModelVersion(d);
    if (d.decision.outcome === 'champion') await this.repo.setChampion(d.modelName, d.version);
    await this.repo.signal(d.jobId, 'succeeded', {
      modelVersion: d.version,
      reason: `registered as ${d.modelName} v${d.version} (${d.decision.outcome}): ${d.decision.reason}`,
    });
    await this.afterJobEnded(d.jobId);
  }

  async onAliasChanged(e: Envelope<'model.alias.changed'>): Promise<void> {
    if (e.data.alias === 'champion') await this.repo.setChampion(e.data.modelName, e.data.version);
  }

  /** Data may have arrived while the job ran: look again. */
  private async afterJobEnded(jobId: string): Promise<void> {
    const job = await this.repo.get(jobId);
    await this.maybeRetrain(job.dataset);
  }

  /** The dataset version a submitted job or sweep trains on: the given one, else the newest; it needs both splits. */
  async trainableVersion(dataset: DatasetVersion['dataset'], id: string | undefined): Promise<DatasetVersion> {
    const version = id ? await this.findVersion(dataset, id) : await this.repo.latestDatasetVersion(dataset);
    if (!version) throw new ValidationError(`no validated ${dataset} data yet: seed it with "mlpipe-data seed ${dataset}"`);
    if (!version.trainSamples || !version.testSamples) {
      throw new ValidationError(`dataset version ${version.id.slice(0, 12)} lacks a train or test split`);
    }
    return version;
  }

  private async findVersion(dataset: DatasetVersion['dataset'], id: string): Promise<DatasetVersion> {
    const version = await this.repo.datasetVersion(id);
    if (version?.dataset === dataset) return version;
    throw new ValidationError(`dataset version ${id} of ${dataset} is not known to the orchestrator`);
  }

  /** Creates the job once per idempotency key and queues one message per replica. */
  async startJob(args: {
    idempotencyKey: string;
    modelName: string;
    version: DatasetVersion;
    hyperparams: Hyperparams;
    replicas: number;
    trigger: Trigger;
    sweep?: TrialRef;
  }): Promise<Job> {
    const { job, created } = await this.repo.createOnce({
      jobId: newJobId(),
      idempotencyKey: args.idempotencyKey,
      modelName: args.modelName,
      dataset: args.version.dataset,
      datasetVersion: args.version.id,
      hyperparams: args.hyperparams,
      replicas: args.replicas,
      trigger: args.trigger,
      ...(args.sweep ? { sweep: args.sweep } : {}),
    });
    const champion = await this.repo.champion(job.modelName);
    const baseline = champion?.artefactPrefix ? { version: champion.version, artefactPrefix: champion.artefactPrefix } : undefined;
    if (job.status === 'queued') {
      // Published even when the row existed: a crash between insert and publish is healed on redelivery,
      // and the deterministic event ids let JetStream drop the duplicates. One message per replica:
      // rank 0 coordinates the data-parallel group, ranks 1.. join it (any idle trainer takes one).
      for (let rank = 0; rank < job.replicas; rank++) {
        await publishEvent(
          this.bus,
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
          },
          { source: SOURCE, eventId: rank === 0 ? `train.job.requested:${job.jobId}` : `train.job.requested:${job.jobId}:rank${rank}` },
        );
      }
    }
    if (created) this.logger.info({ jobId: job.jobId, trigger: job.trigger }, 'job created');
    return job;
  }
}
