import Fastify, { type FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import { httpErrorHandler } from './httpErrors';
import { isProbePath } from './probes';

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
  await app.register(httpErrorHandler);
  registerOpsRoutes(app, opts);
  await app.listen({ port: opts.port, host: opts.host ?? '0.0.0.0' });
  return app;
}

/** One request-duration histogram per registry, however many apps report into it. */
function requestDuration(registry: Registry): Histogram {
  return (
    (registry.getSingleMetric('mlpipe_http_request_duration_seconds') as Histogram | undefined) ??
    new Histogram({
      name: 'mlpipe_http_request_duration_seconds',
      help: 'HTTP requests by route, method and status, and how long they took (probes and scrapes left out)',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    })
  );
}

/** Health, readiness and metrics routes, and a request counter/latency histogram for every other route. */
export function registerOpsRoutes(app: FastifyInstance, opts: Pick<OpsServerOptions, 'metrics' | 'isReady'>): void {
  const duration = requestDuration(opts.metrics);
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    if (isProbePath(route)) return;
    duration.observe({ route, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
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
