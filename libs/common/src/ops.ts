import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  port: number;
  host?: string;
  metrics: Registry;
  /** Readiness: true once dependencies are connected, false while draining. */
  isReady: () => boolean;
}

/**
 * Health and metrics endpoints for services whose real interface is the message bus.
 * GET /healthz (alive), GET /readyz (ready to take work), GET /metrics (Prometheus text).
 */
export async function startOpsServer(opts: OpsServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  registerOpsRoutes(app, opts);
  await app.listen({ port: opts.port, host: opts.host ?? '0.0.0.0' });
  return app;
}

export function registerOpsRoutes(app: FastifyInstance, opts: Pick<OpsServerOptions, 'metrics' | 'isReady'>): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = opts.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready' });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.metrics();
    return reply.header('content-type', opts.metrics.contentType).send(body);
  });
}
