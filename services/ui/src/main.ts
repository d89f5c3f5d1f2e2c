import { UiConfigSchema, loadConfig, storeSettings } from '@mlpipe/config';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startTelemetry } from '@mlpipe/common';
import { createObjectStore } from '@mlpipe/storage';
import { connectBus } from '@mlpipe/bus';

async function main(): Promise<void> {
  const config = loadConfig(UiConfigSchema);
  const telemetry = startTelemetry('ui', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const { buildUi } = await import('./app');
  const logger = createLogger('ui', config.LOG_LEVEL);
  const store = createObjectStore(storeSettings(config));
  await store.ensureReady();
  const bus = await connectBus({ url: config.NATS_URL, name: 'ui', namespace: config.BUS_NAMESPACE });
  const app = await buildUi({
    bus,
    gatewayUrl: config.GATEWAY_URL.replace(/\/$/, ''),
    registryUrl: config.REGISTRY_URL.replace(/\/$/, ''),
    store,
    dataPrefix: config.DATA_PREFIX,
    metrics: createMetricsRegistry('ui'),
    logger,
  });
  await app.listen({ port: config.HTTP_PORT, host: '0.0.0.0' });
  const shutdown = new Shutdown(logger);
  shutdown.add('http', () => app.close());
  shutdown.add('nats', () => bus.close());
  shutdown.add('telemetry', () => telemetry.shutdown());
  shutdown.onSignals();
}

main().catch((err: unknown) => {
  console.error(`ui: ${describeError(err)}`);
  process.exit(1);
});
