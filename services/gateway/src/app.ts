import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { registerOpsRoutes, type Logger } from '@mlpipe/common';

export interface GatewayDeps {
  registryUrl: string;
  metrics: Registry;
  logger: Logger;
  isReady: () => boolean;
}

/**
 * The inference gateway's HTTP edge. This version answers health and lists registered models
 * from the registry; model replicas and the Open Inference Protocol arrive with the inference issue.
 */
export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
  registerOpsRoutes(app, deps);
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => reply.code(deps.isReady() ? 200 : 503).send({ ready: deps.isReady() }));
  app.get('/models', async (_req, reply) => {
    const res = await fetch(`${deps.registryUrl}/models`).catch(() => undefined);
    if (!res?.ok) return reply.code(503).send({ error: { code: 'unavailable', message: `registry at ${deps.registryUrl} did not answer` } });
    return reply.send(await res.json());
  });
  return app;
}
