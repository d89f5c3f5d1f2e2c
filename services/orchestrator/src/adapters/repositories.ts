import { withTransaction, type Pool } from '@mlpipe/db';
import type { EventData, EventType } from '@mlpipe/contracts';
import type { Outbox } from '@mlpipe/outbox';
import type { Db } from './db';
import { DatasetVersionRepository } from './datasetVersionRepository';
import { DriftAlertRepository } from './driftAlertRepository';
import { JobRepository } from './jobRepository';
import { ModelRepository } from './modelRepository';
import { loadRetrainFacts } from './retrainingContext';
import { SweepRepository } from './sweepRepository';

/** The orchestrator's tables, one repository per group, and the one read the retraining policy needs. */
export interface Tables {
  jobs: JobRepository;
  datasets: DatasetVersionRepository;
  models: ModelRepository;
  sweeps: SweepRepository;
  drift: DriftAlertRepository;
  retrainFacts: (modelName: string, dataset: string) => ReturnType<typeof loadRetrainFacts>;
}

/** The tables inside one transaction, and the events that transaction makes true. */
export interface Transaction extends Tables {
  /**
   * Queues an event in the outbox on this transaction: published (by the relay, with this id as the
   * JetStream message id) once the transaction commits, never if it rolls back. An id already in the
   * outbox is kept as it is.
   */
  enqueue<T extends EventType>(type: T, data: EventData<T>, eventId: string): Promise<void>;
}

export interface Repositories extends Tables {
  /** Runs fn in one transaction: its row changes and the events it enqueues commit together, or neither does. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
}

function tablesOn(db: Db): Tables {
  return {
    jobs: new JobRepository(db),
    datasets: new DatasetVersionRepository(db),
    models: new ModelRepository(db),
    sweeps: new SweepRepository(db),
    drift: new DriftAlertRepository(db),
    retrainFacts: (modelName, dataset) => loadRetrainFacts(db, modelName, dataset),
  };
}

export function openRepositories(pool: Pool, outbox: Outbox): Repositories {
  return {
    ...tablesOn(pool),
    transaction: (fn) =>
      withTransaction(pool, (client) =>
        fn({
          ...tablesOn(client),
          enqueue: async (type, data, eventId) => void (await outbox.enqueue(client, type, data, eventId)),
        }),
      ),
  };
}
