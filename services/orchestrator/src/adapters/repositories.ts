import type { Pool } from '@mlpipe/db';
import { DatasetVersionRepository } from './datasetVersionRepository';
import { DriftAlertRepository } from './driftAlertRepository';
import { JobRepository } from './jobRepository';
import { ModelRepository } from './modelRepository';
import { loadRetrainFacts } from './retrainingContext';
import { SweepRepository } from './sweepRepository';

/** The orchestrator's tables, one repository per group, and the one read the retraining policy needs. */
export interface Repositories {
  jobs: JobRepository;
  datasets: DatasetVersionRepository;
  models: ModelRepository;
  sweeps: SweepRepository;
  drift: DriftAlertRepository;
  retrainFacts: (modelName: string, dataset: string) => ReturnType<typeof loadRetrainFacts>;
}

export function openRepositories(pool: Pool): Repositories {
  return {
    jobs: new JobRepository(pool),
    datasets: new DatasetVersionRepository(pool),
    models: new ModelRepository(pool),
    sweeps: new SweepRepository(pool),
    drift: new DriftAlertRepository(pool),
    retrainFacts: (modelName, dataset) => loadRetrainFacts(pool, modelName, dataset),
  };
}
