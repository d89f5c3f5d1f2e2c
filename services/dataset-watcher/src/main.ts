import { DatasetWatcherConfigSchema, loadConfig, storeSettings } from '@mlpipe/config';
import { connectBus } from '@mlpipe/bus';
import { createPool, ensureDatabase } from '@mlpipe/db';
import { createObjectStore } from '@mlpipe/storage';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startOpsServer, startTelemetry } from '@mlpipe/common';
import { startWatcher } from './service';

async function main(): Promise<void> {
  const config = loadConfig(DatasetWatcherConfigSchema);
  const telemetry = startTelemetry('dataset-watcher', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const logger = createLogger('dataset-watcher', config.LOG_LEVEL);
  const shutdown = new Shutdown(logger);
  shutdown.onSignals();
  const metrics = createMetricsRegistry('dataset-watcher');
  let ready = false;
  const ops = await startOpsServer({ port: config.HTTP_PORT, metrics, isReady: () => ready });
  await ensureDatabase(config.DATABASE_URL);
  const pool = await createPool(config.DATABASE_URL);
  const bus = await connectBus({ url: config.NATS_URL, name: 'dataset-watcher', namespace: config.BUS_NAMESPACE });
  const store = createObjectStore(storeSettings(config));
  const watcher = await startWatcher({ config, bus, pool, store, logger, metrics });
  ready = true;
  shutdown.add('not ready', () => void (ready = false));
  shutdown.add('watcher', () => watcher.stop());
  shutdown.add('nats', () => bus.close());
  shutdown.add('postgres', () => pool.end());
  shutdown.add('ops server', () => ops.close());
  shutdown.add('telemetry', () => telemetry.shutdown());
}

main().catch((err: unknown) => {
  console.error(`dataset-watcher: ${describeError(err)}`);
  process.exit(1);
});
