import type { FastifyInstance } from 'fastify';
import { subscribeEvents, type Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import type { ObjectStore } from '@mlpipe/storage';
import { Counter, Histogram, type Registry } from 'prom-client';
import { buildGateway } from './app';
import { ModelCache } from './adapters/modelCache';
import { PredictionLog } from './adapters/predictionLog';
import type { TrafficPolicy } from './core/traffic';

export interface RunningGateway {
  app: FastifyInstance;
  models: ModelCache;
  /** Writes out sampled predictions now (tests, shutdown). */
  flushPredictions(): Promise<void>;
  setReady(ready: boolean): void;
  stop(): Promise<void>;
}

/** Wires the gateway: the model cache on the registry, alias moves from NATS, the HTTP app (not yet listening). */
export function startGateway(deps: {
  registryUrl: string;
  bus: Bus;
  logger: Logger;
  metrics: Registry;
  cacheSize?: number;
  bodyLimitBytes?: number;
  pinnedVersion?: number | undefined;
  traffic?: TrafficPolicy;
  random?: () => number;
  /** With a store, predictions are sampled into it (drift monitoring, lineage). */
  sampling?: { store: ObjectStore; share: number; flushMs: number };
}): RunningGateway {
  const loadTime = new Histogram({ name: 'mlpipe_model_load_seconds', help: 'Time to load a model version', labelNames: ['model'], registers: [deps.metrics] });
  const models = new ModelCache(deps.registryUrl.replace(/\/$/, ''), deps.cacheSize ?? 4, (name, _v, s) => loadTime.observe({ model: name }, s));
  // An alias move takes effect on the next request, without a restart.
  const aliasSub = subscribeEvents(deps.bus, 'model.alias.changed', (e) => models.invalidate(e.data.modelName), deps.logger);
  const sampled = new Counter({ name: 'mlpipe_predictions_sampled_total', help: 'Predictions written to the store for drift monitoring, or dropped when the store stayed unreachable', labelNames: ['outcome'], registers: [deps.metrics] });
  const predictionLog =
    deps.sampling && deps.sampling.share > 0
      ? new PredictionLog({
          store: deps.sampling.store,
          logger: deps.logger,
          sampleShare: deps.sampling.share,
          flushMs: deps.sampling.flushMs,
          onFlushed: (n) => sampled.inc({ outcome: 'written' }, n),
          onDropped: (n) => sampled.inc({ outcome: 'dropped' }, n),
        })
      : undefined;
  let ready = true;
  const app = buildGateway({
    models,
    metrics: deps.metrics,
    logger: deps.logger,
    isReady: () => ready,
    pinnedVersion: deps.pinnedVersion,
    predictionLog,
    ...(deps.traffic ? { traffic: deps.traffic } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.bodyLimitBytes ? { bodyLimitBytes: deps.bodyLimitBytes } : {}),
  });
  return {
    app,
    models,
    setReady: (r) => void (ready = r),
    flushPredictions: async () => predictionLog?.flush(),
    stop: async () => {
      aliasSub.unsubscribe();
      await predictionLog?.close();
    },
  };
}
