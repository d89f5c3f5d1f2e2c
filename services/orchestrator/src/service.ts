import { HyperparamsSchema, type JobStatus } from '@mlpipe/contracts';
import type { OrchestratorConfig } from '@mlpipe/config';
import { consumeEvents, ensureStreams, serveRequests, type Bus, type RunningConsumer } from '@mlpipe/bus';
import { migrate, type Pool } from '@mlpipe/db';
import { ConfigError, type Logger } from '@mlpipe/common';
import type { Subscription } from '@nats-io/nats-core';
import { Counter, type Registry } from 'prom-client';
import { JobRepository } from './adapters/jobRepository';
import { JobService } from './adapters/jobService';
import { SweepService } from './adapters/sweepService';
import { ORCHESTRATOR_SCHEMA, migrations } from './adapters/migrations';

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
  repo: JobRepository;
  stop(): Promise<void>;
}

export function autoHyperparams(json: string) {
  try {
    return HyperparamsSchema.parse(JSON.parse(json));
  } catch (cause) {
    throw new ConfigError(`AUTO_HYPERPARAMS is not valid hyperparameters JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Wires the orchestrator: migrations, streams, three event consumers and the jobs request API. */
export async function startOrchestrator(deps: OrchestratorDeps): Promise<RunningOrchestrator> {
  const { config, bus, pool, logger, metrics } = deps;
  await migrate(pool, ORCHESTRATOR_SCHEMA, migrations);
  await ensureStreams(bus);
  const repo = new JobRepository(pool);
  const jobs = new JobService(
    repo,
    bus,
    {
      minNewSamples: config.RETRAIN_MIN_NEW_SAMPLES,
      autoEnabled: config.AUTO_TRAIN_ENABLED,
      autoModelName: config.AUTO_MODEL_NAME,
      autoHyperparams: autoHyperparams(config.AUTO_HYPERPARAMS),
      autoReplicas: config.AUTO_REPLICAS,
      minNewSamplesOnDrift: config.RETRAIN_MIN_NEW_SAMPLES_ON_DRIFT,
    },
    logger,
  );
  const sweeps = new SweepService(repo, jobs, bus, logger);
  const handled = new Counter({
    name: 'mlpipe_orchestrator_events_total',
    help: 'Events handled by the orchestrator, by type',
    labelNames: ['type'],
    registers: [metrics],
  });
  const count = (type: string) => handled.inc({ type });
  const common = { logger, metrics }; // metrics: lag, redeliveries and dead letters, counted by libs/bus

  const consumers: RunningConsumer[] = [];
  consumers.push(
    await consumeEvents(bus, {
      ...common,
      durable: 'orchestrator-data-events',
      handlers: {
        'data.batch.validated': async (e) => {
          count(e.type);
          await jobs.onDatasetVersion(e.data.datasetVersion);
        },

      },
    }),
  );
  consumers.push(
    await consumeEvents(bus, {
      ...common,
      durable: 'orchestrator-drift-events',
      handlers: {
        'data.drift.detected': async (e) => {
          count(e.type);
          await jobs.onDrift(e);
        },
      },
    }),
  );
  const onTrain = async (e: Parameters<JobService['onTrainEvent']>[0]) => {
    count(e.type);
    await jobs.onTrainEvent(e);
    if (e.type !== 'train.job.started') await sweeps.onTrainEvent(e as Parameters<SweepService['onTrainEvent']>[0]);
  };
  consumers.push(
    await consumeEvents(bus, {
      ...common,
      durable: 'orchestrator-train-events',
      maxInFlight: 1, // keeps a job's events in order
      handlers: {
        'train.job.started': onTrain,
        'train.job.progress': onTrain,
        'train.job.completed': onTrain,
        'train.job.failed': onTrain,
        'train.job.cancelled': onTrain,
      },
    }),
  );
  consumers.push(
    await consumeEvents(bus, {
      ...common,
      durable: 'orchestrator-model-events',
      handlers: {
        'model.version.registered': async (e) => {
          count(e.type);
          await jobs.onModelRegistered(e);
        },
        'model.alias.changed': async (e) => {
          count(e.type);
          await jobs.onAliasChanged(e);
        },
      },
    }),
  );
  const subscriptions: Subscription[] = [
    serveRequests(bus, 'orchestrator.jobs.submit', (req) => jobs.submit(req), logger),
    serveRequests(
      bus,
      'orchestrator.jobs.list',
      async (req) => ({ jobs: await repo.list({ status: req.status as JobStatus | undefined, limit: req.limit }) }),
      logger,
    ),
    serveRequests(bus, 'orchestrator.jobs.get', (req) => repo.get(req.jobId), logger),
    serveRequests(bus, 'orchestrator.jobs.cancel', (req) => jobs.cancel(req.jobId, req.reason), logger),
    serveRequests(bus, 'orchestrator.sweeps.submit', (req) => sweeps.submit(req), logger),
    serveRequests(bus, 'orchestrator.sweeps.get', (req) => sweeps.get(req.sweepId), logger),
  ];
  logger.info('orchestrator started');
  return {
    jobs,
    sweeps,
    repo,
    stop: async () => {
      for (const s of subscriptions) s.unsubscribe();
      await Promise.all(consumers.map((c) => c.stop()));
    },
  };
}
