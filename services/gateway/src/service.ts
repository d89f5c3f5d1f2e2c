import type { FastifyInstance } from 'fastify';
import { subscribeEvents, type Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import { Histogram, type Registry } from 'prom-client';
import { buildGateway } from './app';
import { ModelCache } from './adapters/modelCache';

export interface RunningGateway {
  app: FastifyInstance;
  models: ModelCache;
  setReady(ready: boolean): void;
  stop(): Promise<void>;
}

/** Wires the gateway: the model cache on the registry, alias moves from NATS, the HTTP app (not yet listening). */
export function startGateway(deps: { registryUrl: string; bus: Bus; logger: Logger; metrics: Registry; cacheSize?: number; bodyLimitBytes?: number; pinnedVersion?: number | undefined }): RunningGateway {
  const loadTime = new Histogram({ name: 'mlpipe_model_load_seconds', help: 'Time to load a model version', labelNames: ['model'], registers: [deps.metrics] });
  const models = new ModelCache(deps.registryUrl.replace(/\/$/, ''), deps.cacheSize ?? 4, (name, _v, s) => loadTime.observe({ model: name }, s));
  // An alias move takes effect on the next request, without a restart.
  const aliasSub = subscribeEvents(deps.bus, 'model.alias.changed', (e) => models.invalidate(e.data.modelName), deps.logger);
  let ready = true;
  const app = buildGateway({ models, metrics: deps.metrics, logger: deps.logger, isReady: () => ready, pinnedVersion: deps.pinnedVersion, ...(deps.bodyLimitBytes ? { bodyLimitBytes: deps.bodyLimitBytes } : {}) });
  return {
    app,
    models,
    setReady: (r) => void (ready = r),
    stop: async () => {
      aliasSub.unsubscribe();
    },
  };
}
