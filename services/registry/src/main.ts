import { RegistryConfigSchema, loadConfig, storeSettings } from '@mlpipe/config';
import { connectBus } from '@mlpipe/bus';
import { createPool, ensureDatabase } from '@mlpipe/db';
import { createObjectStore } from '@mlpipe/storage';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startTelemetry } from '@mlpipe/common';

async function main(): Promise<void> {
  const config = loadConfig(RegistryConfigSchema);
  const telemetry = startTelemetry('registry', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const { startRegistry } = await import('./service'); // after telemetry, so instrumentation applies
  const logger = createLogger('registry', config.LOG_LEVEL);
  await ensureDatabase(config.DATABASE_URL);
  const pool = await createPool(config.DATABASE_URL);
  const bus = await connectBus({ url: config.NATS_URL, name: 'registry', namespace: config.BUS_NAMESPACE });
  const store = createObjectStore(storeSettings(config));
  const registry = await startRegistry({ config, bus, pool, store, logger, metrics: createMetricsRegistry('registry') });
  await registry.app.listen({ port: config.HTTP_PORT, host: '0.0.0.0' });
  const shutdown = new Shutdown(logger);
  shutdown.add('consumer', () => registry.stop());
  shutdown.add('http', () => registry.app.close());
  shutdown.add('nats', () => bus.close());
  shutdown.add('postgres', () => pool.end());
  shutdown.add('telemetry', () => telemetry.shutdown());
  shutdown.onSignals();
}

main().catch((err: unknown) => {
  console.error(`registry: ${describeError(err)}`);
  process.exit(1);
});
