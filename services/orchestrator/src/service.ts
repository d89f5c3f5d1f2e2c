import { HyperparamsSchema, RECIPES, type EventType, type JobStatus, type Envelope, type RecipeName } from '@mlpipe/contracts';
import type { OrchestratorConfig } from '@mlpipe/config';
import { consumeEvents, ensureStreams, serveRequests, type Bus, type ConsumeOptions, type EventHandler, type RunningConsumer } from '@mlpipe/bus';
import { migrate, type Pool } from '@mlpipe/db';
import { ConfigError, type Logger } from '@mlpipe/common';
import { createOutbox, startOutboxRelay } from '@mlpipe/outbox';
import type { Subscription } from '@nats-io/nats-core';
import { Counter, type Registry } from 'prom-client';
import { openRepositories, type Repositories } from './adapters/repositories';
import { ORCHESTRATOR_SCHEMA, migrations } from './adapters/migrations';
import { JobService } from './app/jobService';
import { SweepService } from './app/sweepService';
import { Retraining } from './app/retraining';
import { JobEvents } from './app/jobEvents';
import { SOURCE } from './app/ids';
import type { QuotaLimits } from './core/quota';

export interface OrchestratorDeps {
  config: OrchestratorConfig;
  bus: Bus;
  pool: Pool;
  logger: Logger;
  metrics: Registry;
}

export interface RunningOrchestrator {
  jobs: JobService;
  sweeps: SweepService;
  repos: Repositories;
  stop(): Promise<void>;
}

/** The hyperparameters of automatic jobs: the recipe's, with AUTO_HYPERPARAMS laid over them. */
export function autoHyperparams(json: string, recipe: RecipeName = 'fast') {
  try {
    return HyperparamsSchema.parse({ ...RECIPES[recipe], ...(JSON.parse(json) as object) });
  } catch (cause) {
    throw new ConfigError(`AUTO_HYPERPARAMS is not valid hyperparameters JSON: ${(cause as Error).message}`, { cause });
  }
}

/** The QUOTA_* settings as the quota checks take them. */
export function quotaLimits(config: OrchestratorConfig): QuotaLimits {
  return {
    maxEpochs: config.QUOTA_MAX_EPOCHS,
    maxReplicas: config.QUOTA_MAX_REPLICAS,
    maxBatchSize: config.QUOTA_MAX_BATCH_SIZE,
    maxTrainSubset: config.QUOTA_MAX_TRAIN_SUBSET,
    maxSweepTrials: config.QUOTA_MAX_SWEEP_TRIALS,
    maxActiveJobs: config.QUOTA_MAX_ACTIVE_JOBS,
  };
}

/**
 * Wires the orchestrator: migrations, streams, the use cases on their repositories, four event
 * consumers, the request API, and the outbox relay that publishes what the use cases commit.
 */
export async function startOrchestrator(deps: OrchestratorDeps): Promise<RunningOrchestrator> {
  const { config, bus, pool, logger, metrics } = deps;
  await migrate(pool, ORCHESTRATOR_SCHEMA, migrations);
  await ensureStreams(bus);
  const repos = openRepositories(pool, createOutbox(ORCHESTRATOR_SCHEMA, SOURCE));
  const jobs = new JobService(repos, logger, quotaLimits(config));
  const sweeps = new SweepService(repos, jobs, logger);
  const retraining = new Retraining(
    repos,
    jobs,
    {
      minNewSamples: config.RETRAIN_MIN_NEW_SAMPLES,
      autoEnabled: config.AUTO_TRAIN_ENABLED,
      autoModelName: config.AUTO_MODEL_NAME,
      autoHyperparams: autoHyperparams(config.AUTO_HYPERPARAMS, config.AUTO_RECIPE),
      autoReplicas: config.AUTO_REPLICAS,
      minNewSamplesOnDrift: config.RETRAIN_MIN_NEW_SAMPLES_ON_DRIFT,
    },
    logger,
  );
  const events = new JobEvents(repos, sweeps, retraining);

  const handled = new Counter({
    name: 'mlpipe_orchestrator_events_total',
    help: 'Events handled by the orchestrator, by type',
    labelNames: ['type'],
    registers: [metrics],
  });
  /** A use case as a consumer's handler, counted by event type. */
  const on =
    <T extends EventType>(handle: (e: Envelope<T>) => Promise<void>): EventHandler<T> =>
    async (e) => {
      handled.inc({ type: e.type });
      await handle(e);
    };
  const consumerSpecs: Pick<ConsumeOptions, 'durable' | 'handlers' | 'maxInFlight'>[] = [
    { durable: 'orchestrator-data-events', handlers: { 'data.batch.validated': on((e) => retraining.onDatasetVersion(e)) } },
    { durable: 'orchestrator-drift-events', handlers: { 'data.drift.detected': on((e) => retraining.onDrift(e)) } },
    {
      durable: 'orchestrator-train-events',
      maxInFlight: 1, // keeps a job's events in order
      handlers: {
        'train.job.started': on((e) => events.started(e)),
        'train.job.progress': on((e) => events.progress(e)),
        'train.job.completed': on((e) => events.completed(e)),
        'train.job.failed': on((e) => events.failed(e)),
        'train.job.cancelled': on((e) => events.cancelled(e)),
      },
    },
    {
      durable: 'orchestrator-model-events',
      handlers: {
        'model.version.registered': on((e) => events.modelRegistered(e)),
        'model.alias.changed': on((e) => events.aliasChanged(e)),
      },
    },
  ];
  const consumers: RunningConsumer[] = [];
  for (const spec of consumerSpecs) {
    // metrics: lag, redeliveries and dead letters, counted by libs/bus
    consumers.push(await consumeEvents(bus, { ...spec, logger, metrics }));
  }

  const subscriptions: Subscription[] = [
    serveRequests(bus, 'orchestrator.jobs.submit', (req) => jobs.submit(req), logger),
    serveRequests(
      bus,
      'orchestrator.jobs.list',
      async (req) => ({ jobs: await repos.jobs.list({ status: req.status as JobStatus | undefined, limit: req.limit }) }),
      logger,
    ),
    serveRequests(bus, 'orchestrator.jobs.get', (req) => repos.jobs.get(req.jobId), logger),
    serveRequests(bus, 'orchestrator.jobs.cancel', (req) => jobs.cancel(req.jobId, req.reason), logger),
    serveRequests(bus, 'orchestrator.sweeps.submit', (req) => sweeps.submit(req), logger),
    serveRequests(bus, 'orchestrator.sweeps.get', (req) => sweeps.get(req.sweepId), logger),
    serveRequests(bus, 'orchestrator.sweeps.list', async (req) => ({ sweeps: await sweeps.list(req.limit) }), logger),
    serveRequests(bus, 'orchestrator.drift.list', async (req) => ({ alerts: await repos.drift.list(req.modelName, req.limit) }), logger),
  ];
  // Last, so nothing above can fail with it running; what was committed meanwhile waits in the table.
  const relay = startOutboxRelay({ pool, bus, schema: ORCHESTRATOR_SCHEMA, logger, metrics });
  logger.info('orchestrator started');
  return {
    jobs,
    sweeps,
    repos,
    stop: async () => {
      for (const s of subscriptions) s.unsubscribe();
      await Promise.all(consumers.map((c) => c.stop()));
      // After the consumers, whose last handlers may still enqueue.
      await relay.stop();
    },
  };
}
