import { GatewayConfigSchema, loadConfig, storeSettings } from '@mlpipe/config';
import { createObjectStore } from '@mlpipe/storage';
import { connectBus } from '@mlpipe/bus';
import { Shutdown, createLogger, createMetricsRegistry, describeError, startTelemetry } from '@mlpipe/common';
import { initBackend } from '@mlpipe/ml';

/**
 * One program, two roles. Without MODEL_REPLICAS it is a model replica: it loads registered
 * models and answers inference itself. With MODEL_REPLICAS it is the edge: it balances the same
 * routes over those replicas, retrying once elsewhere when one fails.
 */
async function main(): Promise<void> {
  const config = loadConfig(GatewayConfigSchema);
  const telemetry = startTelemetry('gateway', config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const metrics = createMetricsRegistry('gateway');
  const shutdown = new Shutdown(logger);
  let ready = true;
  shutdown.add('not ready', () => void (ready = false));
  const replicas = config.MODEL_REPLICAS?.split(',').map((u) => u.trim()).filter(Boolean) ?? [];
  if (replicas.length) {
    const { buildEdge } = await import('./edge');
    const { ReplicaPool } = await import('./adapters/replicaPool');
    const pool = new ReplicaPool(replicas, config.REPLICA_TIMEOUT_MS);
    const app = buildEdge({ pool, metrics, logger, isReady: () => ready, bodyLimitBytes: config.BODY_LIMIT_BYTES });
    await app.listen({ port: config.HTTP_PORT, host: '0.0.0.0' });
    logger.info({ replicas }, 'gateway edge balancing over model replicas');
    shutdown.add('http (finishes in-flight requests)', () => app.close());
    shutdown.add('replica probes', () => pool.stop());
  } else {
    const { startGateway } = await import('./service'); // after telemetry, so its HTTP instrumentation applies
    const backend = await initBackend('auto');
    logger.info(backend, `tensorflow.js backend: ${backend.name}`);
    const bus = await connectBus({ url: config.NATS_URL, name: 'gateway', namespace: config.BUS_NAMESPACE });
    const store = createObjectStore(storeSettings(config));
    await store.ensureReady();
    const gateway = startGateway({
      registryUrl: config.REGISTRY_URL,
      bus,
      logger,
      metrics,
      cacheSize: config.MODEL_CACHE_SIZE,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      pinnedVersion: config.MODEL_VERSION,
      traffic: { canaryShare: config.CANARY_SHARE, shadow: config.SHADOW_CHALLENGER },
      sampling: { store, share: config.PREDICTION_SAMPLE_SHARE, flushMs: config.PREDICTION_FLUSH_MS },
    });
    shutdown.add('not ready (replica)', () => gateway.setReady(false));
    await gateway.app.listen({ port: config.HTTP_PORT, host: '0.0.0.0' });
    shutdown.add('http (finishes in-flight requests)', () => gateway.app.close());
    shutdown.add('alias events, sampled predictions', () => gateway.stop());
    shutdown.add('nats', () => bus.close());
  }
  shutdown.add('telemetry', () => telemetry.shutdown());
  shutdown.onSignals();
}

main().catch((err: unknown) => {
  console.error(`gateway: ${describeError(err)}`);
  process.exit(1);
});
