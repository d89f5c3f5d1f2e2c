import { GatewayConfigSchema, loadConfig } from '@mlpipe/config';
import { connectBus } from '@mlpipe/bus';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startTelemetry } from '@mlpipe/common';
import { initBackend } from '@mlpipe/ml';

async function main(): Promise<void> {
  const config = loadConfig(GatewayConfigSchema);
  const telemetry = startTelemetry('gateway', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const { startGateway } = await import('./service'); // after telemetry, so its HTTP instrumentation applies
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const backend = await initBackend('auto');
  logger.info(backend, `tensorflow.js backend: ${backend.name}`);
  const bus = await connectBus({ url: config.NATS_URL, name: 'gateway', namespace: config.BUS_NAMESPACE });
  const gateway = startGateway({ registryUrl: config.REGISTRY_URL, bus, logger, metrics: createMetricsRegistry('gateway') });
  await gateway.app.listen({ port: config.HTTP_PORT, host: '0.0.0.0' });
  const shutdown = new Shutdown(logger);
  shutdown.add('not ready', () => gateway.setReady(false));
  shutdown.add('http (finishes in-flight requests)', () => gateway.app.close());
  shutdown.add('alias events', () => gateway.stop());
  shutdown.add('nats', () => bus.close());
  shutdown.add('telemetry', () => telemetry.shutdown());
  shutdown.onSignals();
}

main().catch((err: unknown) => {
  console.error(`gateway: ${describeError(err)}`);
  process.exit(1);
});
