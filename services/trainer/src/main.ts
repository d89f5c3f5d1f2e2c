import { parseArgs } from 'node:util';
import { TrainerConfigSchema, loadConfig, storeSettings } from '@mlpipe/config';
import { connectBus, request } from '@mlpipe/bus';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startOpsServer, startTelemetry } from '@mlpipe/common';
import { createObjectStore } from '@mlpipe/storage';
import { initBackend } from '@mlpipe/ml';
import { startTrainer } from './service';

/**
 * A trainer replica. Without arguments it takes jobs from the queue until stopped; with
 * `--job-id ID [--rank R]` it runs that job (as rank R of its data-parallel group, 0 by default)
 * and exits (0 on success), as a Kubeflow TrainJob pod does.
 */
async function main(): Promise<number | undefined> {
  const { values } = parseArgs({ options: { 'job-id': { type: 'string' }, rank: { type: 'string', default: '0' } } });
  const rank = Number(values.rank);
  if (!Number.isInteger(rank) || rank < 0) throw new Error(`--rank must be a whole number ≥ 0, got "${values.rank}"`);
  const config = loadConfig(TrainerConfigSchema);
  const telemetry = startTelemetry('trainer', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const logger = createLogger('trainer', config.LOG_LEVEL, { replica: config.TRAINER_REPLICA_ID });
  const backend = await initBackend(config.TRAINER_BACKEND);
  logger.info(backend, `tensorflow.js backend: ${backend.name}`);
  const store = createObjectStore(storeSettings(config));
  await store.ensureReady();
  const bus = await connectBus({ url: config.NATS_URL, name: config.TRAINER_REPLICA_ID, namespace: config.BUS_NAMESPACE });
  const metrics = createMetricsRegistry('trainer');
  const trainer = await startTrainer({
    bus,
    store,
    logger,
    metrics,
    replicaId: config.TRAINER_REPLICA_ID,
    backend: backend.name,
    codeVersion: config.CODE_VERSION,
    consume: !values['job-id'],
    ackWaitMs: config.TRAINER_ACK_WAIT_MS,
    maxAttempts: config.TRAINER_MAX_ATTEMPTS,
    dp: {
      heartbeatMs: config.TRAINER_HEARTBEAT_MS,
      heartbeatTimeoutMs: config.TRAINER_HEARTBEAT_TIMEOUT_MS,
      stepTimeoutMs: config.TRAINER_STEP_TIMEOUT_MS,
      joinWindowMs: config.TRAINER_JOIN_WINDOW_MS,
      joinTimeoutMs: config.TRAINER_JOIN_TIMEOUT_MS,
      ...(config.TRAINER_MAX_PART_BYTES ? { maxPartBytes: config.TRAINER_MAX_PART_BYTES } : {}),
    },
  });
  const jobId = values['job-id'];
  if (jobId) {
    const { modelName, dataset, datasetVersion, hyperparams, replicas, trigger, attempts } = await request(
      bus,
      'orchestrator.jobs.get',
      { jobId },
    );
    if (rank >= replicas) throw new Error(`--rank ${rank} is outside job ${jobId}'s ${replicas} replica(s)`);
    const job = { jobId, modelName, dataset, datasetVersion, hyperparams, replicas, rank, trigger };
    const outcome = await trainer.runOne(job, attempts + 1);
    await trainer.stop();
    await bus.close();
    await telemetry.shutdown();
    return outcome === 'completed' || outcome === 'assisted' ? 0 : 1;
  }
  const ops = await startOpsServer({ port: config.HTTP_PORT, metrics, isReady: () => !bus.nc.isClosed() });
  const shutdown = new Shutdown(logger, 60_000);
  shutdown.add('consumer', () => trainer.stop());
  shutdown.add('nats', () => bus.close());
  shutdown.add('ops server', () => ops.close());
  shutdown.add('telemetry', () => telemetry.shutdown());
  shutdown.onSignals();
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    console.error(`trainer: ${describeError(err)}`);
    process.exit(1);
  },
);
