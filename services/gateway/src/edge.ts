import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '@mlpipe/common';
import { httpErrorHandler, registerOpsRoutes } from '@mlpipe/runtime';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AuthGuard } from '@mlpipe/auth';
import { PASSED_HEADERS, type ReplicaPool } from './adapters/replicaPool';
import { requireTokenForInference } from './inferenceAuth';
import { readReplicaCounts } from './adapters/replicaVariants';
import { sumVariantTotals } from './core/variantTotals';

/**
 * The gateway as an edge in front of model replicas (gateway processes without MODEL_REPLICAS):
 * the same routes, forwarded by the replica pool. Bodies pass through untouched, so replicas do
 * all validation and the answers (and error shapes) are the replicas' own.
 */
export function buildEdge(deps: {
  pool: ReplicaPool;
  metrics: Registry;
  logger: Logger;
  isReady: () => boolean;
  bodyLimitBytes?: number;
  guard?: AuthGuard | undefined;
  /** How long each replica has to hand over its counters for GET /metrics/variants (default 2 s). */
  variantsTimeoutMs?: number;
}): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024 });
  const hop = new Histogram({ name: 'mlpipe_gateway_forward_seconds', help: 'Time to forward a request to a model replica', labelNames: ['status'], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [deps.metrics] });
  const failures = new Counter({ name: 'mlpipe_gateway_unanswered_total', help: 'Requests no replica could answer', registers: [deps.metrics] });
  const overloaded = new Counter({ name: 'mlpipe_gateway_overloaded_total', help: 'Requests answered 503 with Retry-After because every replica tried was overloaded (full batch queue)', registers: [deps.metrics] });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  void app.register(httpErrorHandler);
  registerOpsRoutes(app, { metrics: deps.metrics, isReady: () => deps.isReady() && deps.pool.healthyCount() > 0 });
  requireTokenForInference(app, deps.guard);
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => {
    const ready = deps.isReady() && deps.pool.healthyCount() > 0;
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  const forward = async (req: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    try {
      // The caller's token goes on: replicas with GATEWAY_AUTH=token check it too.
      // So do the binary extension's header (its JSON length), both ways.
      const passed = Object.fromEntries(PASSED_HEADERS.flatMap((h) => (typeof req.headers[h] === 'string' ? [[h, req.headers[h]]] : [])));
      const answer = await deps.pool.forward(req.method, req.url, Buffer.isBuffer(req.body) ? req.body : undefined, req.headers['content-type'] as string | undefined, req.headers.authorization, passed);
      hop.observe({ status: String(answer.status) }, (performance.now() - started) / 1000);
      // A 503 the pool returns (not throws) is the replicas' own "overloaded", Retry-After included in `passed`.
      if (answer.status === 503) overloaded.inc();
      return reply.code(answer.status).headers(answer.passed).header('x-mlpipe-replica', answer.replica).type(answer.contentType).send(answer.body);
    } catch (err) {
      failures.inc();
      throw err;
    }
  };
  for (const path of ['/v2', '/v2/*', '/predict', '/explain', '/models']) app.all(path, forward);
  // The variant counters live on the replicas (each counts what it answered): the edge, which knows
  // them all, sums them for the UI and names any that did not answer. Open like /metrics, which it
  // sums: counts per model and variant, no input or prediction.
  app.get('/metrics/variants', async () => sumVariantTotals(await readReplicaCounts(deps.pool.urls(), deps.variantsTimeoutMs ?? 2000)));
  return app;
}
