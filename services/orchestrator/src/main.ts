import { OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { connectBus } from '@mlpipe/bus';
import { createPool, ensureDatabase } from '@mlpipe/db';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startOpsServer, startTelemetry } from '@mlpipe/common';
import { startOrchestrator } from './service';

async function main(): Promise<void> {
  const config = loadConfig(OrchestratorConfigSchema);
  const telemetry = startTelemetry('orchestrator', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const logger = createLogger('orchestrator', config.LOG_LEVEL);
  const shutdown = new Shutdown(logger);
  shutdown.onSignals();
  const metrics = createMetricsRegistry('orchestrator');
  let ready = false;
  const ops = await startOpsServer({ port: config.HTTP_PORT, metrics, isReady: () => ready });
  await ensureDatabase(config.DATABASE_URL);
  const pool = await createPool(config.DATABASE_URL);
  const bus = await connectBus({ url: config.NATS_URL, name: 'orchestrator', namespace: config.BUS_NAMESPACE });
  const service = await startOrchestrator({ config, bus, pool, logger, metrics });
  ready = true;
  shutdown.add('not ready', () => void (ready = false));
  shutdown.add('consumers', () => service.stop());
  shutdown.add('nats', () => bus.close());
  shutdown.add('postgres', () => pool.end());
  shutdown.add('ops server', () => ops.close());
  shutdown.add('telemetry', () => telemetry.shutdown());
}

main().catch((err: unknown) => {
  console.error(`orchestrator: ${describeError(err)}`);
  process.exit(1);
});
