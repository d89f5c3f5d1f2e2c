import type { DatasetVersion, Envelope, Hyperparams, Job } from '@mlpipe/contracts';
import type { Logger } from '@mlpipe/common';
import { decideRetrain } from '../core/policy';
import type { Repositories } from '../adapters/repositories';
import type { JobService } from './jobService';

export interface RetrainSettings {
  minNewSamples: number;
  autoEnabled: boolean;
  autoModelName: string;
  autoHyperparams: Hyperparams;
  autoReplicas: number;
  minNewSamplesOnDrift: number;
}

/**
 * Continuous training: new data, drift and the end of a job each make the policy look again at the
 * newest dataset version; it starts at most one job, and says why when it does not.
 */
export class Retraining {
  constructor(
    private readonly repos: Pick<Repositories, 'datasets' | 'models' | 'drift' | 'retrainFacts'>,
    private readonly jobs: JobService,
    private readonly settings: RetrainSettings,
    private readonly logger: Logger,
  ) {}

  async onDatasetVersion(e: Envelope<'data.batch.validated'>): Promise<void> {
    const version = e.data.datasetVersion;
    await this.repos.datasets.record(version);
    await this.maybeRetrain(version.dataset);
  }

  /** Drift on a model's predictions: remembered until a retraining answers it, and the policy looks again. */
  async onDrift(e: Envelope<'data.drift.detected'>): Promise<void> {
    const d = e.data;
    await this.repos.drift.record(e.eventId, d.modelName, d.modelVersion, d.reasons);
    this.logger.warn({ model: d.modelName, version: d.modelVersion, reasons: d.reasons }, 'drift reported');
    const champion = await this.repos.models.champion(d.modelName);
    const version = champion && (await this.repos.datasets.get(champion.datasetVersion));
    if (version) await this.maybeRetrain(version.dataset);
  }

  /** Data may have arrived while the job ran: look again. */
  async afterJobEnded(job: Job): Promise<void> {
    await this.maybeRetrain(job.dataset);
  }

  private async maybeRetrain(dataset: DatasetVersion['dataset']): Promise<void> {
    const modelName = this.settings.autoModelName;
    const facts = await this.repos.retrainFacts(modelName, dataset);
    if (!facts) return;
    const decision = decideRetrain({
      ...facts,
      minNewSamples: this.settings.minNewSamples,
      enabled: this.settings.autoEnabled,
      minNewSamplesOnDrift: this.settings.minNewSamplesOnDrift,
    });
    if (!decision.start) {
      this.logger.info({ datasetVersion: facts.latest.id, reason: decision.reason }, 'not retraining');
      return;
    }
    const job = await this.jobs.startJob({
      idempotencyKey: `auto:${modelName}:${facts.latest.id}`,
      modelName,
      version: facts.latest,
      hyperparams: this.settings.autoHyperparams,
      replicas: this.settings.autoReplicas,
      trigger: decision.trigger,
    });
    if (decision.trigger.kind === 'drift') await this.repos.drift.resolve(modelName, job.jobId);
  }
}
