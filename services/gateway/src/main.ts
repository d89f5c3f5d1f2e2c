import { GatewayConfigSchema, loadConfig } from '@mlpipe/config';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startTelemetry } from '@mlpipe/common';

async function main(): Promise<void> {
  const config = loadConfig(GatewayConfigSchema);
  const telemetry = startTelemetry('gateway', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const { buildGateway } = await import('./app'); // after telemetry, so its HTTP instrumentation applies
  const logger = createLogger('gateway', config.LOG_LEVEL);
  let ready = true;
  const app = buildGateway({ registryUrl: config.REGISTRY_URL, metrics: createMetricsRegistry('gateway'), logger, isReady: () => ready });
  await app.listen({ port: config.HTTP_PORT, host: '0.0.0.0' });
  const shutdown = new Shutdown(logger);
  shutdown.add('not ready', () => void (ready = false));
  shutdown.add('http', () => app.close());
  shutdown.add('telemetry', () => telemetry.shutdown());
  shutdown.onSignals();
}

main().catch((err: unknown) => {
  console.error(`gateway: ${describeError(err)}`);
  process.exit(1);
});
