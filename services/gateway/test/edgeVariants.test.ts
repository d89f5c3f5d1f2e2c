import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createAuthGuard } from '@mlpipe/auth';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { buildEdge } from '../src/edge';
import { ReplicaPool } from '../src/adapters/replicaPool';

/**
 * GET /metrics/variants at the edge over stand-in replicas on real sockets: two that hand over
 * their counters, one that never answers and one whose /metrics fails. (Real gateway replica
 * processes behind a real edge: services/ui/test/trafficBehindEdge.test.ts.)
 */
describe("the edge's variant totals over its replicas", () => {
  const servers: Server[] = [];
  const urls: Record<'a' | 'b' | 'hung' | 'broken', string> = { a: '', b: '', hung: '', broken: '' };
  let pool: ReplicaPool;
  let edge: FastifyInstance;

  const replica = async (metrics: (res: ServerResponse) => void) => {
    const server = createServer((req, res) => (req.url === '/metrics' ? metrics(res) : void res.writeHead(200).end('{}')));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  };
  const text = (lines: string[]) => (res: ServerResponse) => void res.writeHead(200, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\n`);

  beforeAll(async () => {
    urls.a = await replica(text(['mlpipe_variant_requests_total{model="mnist",variant="champion"} 7', 'mlpipe_variant_requests_total{model="mnist",variant="challenger"} 3', 'mlpipe_shadow_predictions_total{model="mnist",agree="true"} 6', 'mlpipe_shadow_predictions_total{model="mnist",agree="false"} 1']));
    urls.b = await replica(text(['mlpipe_variant_requests_total{model="mnist",variant="champion"} 5', 'mlpipe_shadow_predictions_total{model="mnist",agree="true"} 5']));
    urls.hung = await replica(() => undefined);
    urls.broken = await replica((res) => void res.writeHead(500).end('boom'));
    pool = new ReplicaPool([urls.a, urls.b, urls.hung, urls.broken], 2000, 60_000);
    // GATEWAY_AUTH=token with a resolver that knows no token: inference is refused without one.
    const guard = createAuthGuard({ resolve: async () => ({ problem: 'the token is unknown or revoked' }), anonymousRole: 'none' });
    edge = buildEdge({ pool, metrics: createMetricsRegistry('edge-variants'), logger: createLogger('edge-variants', 'silent'), isReady: () => true, guard, variantsTimeoutMs: 1500 });
  });
  afterAll(async () => {
    pool?.stop();
    await edge?.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  it('sums the replicas that answered and names the rest with why, open like /metrics', async () => {
    expect((await edge.inject({ method: 'POST', url: '/predict', payload: {} })).statusCode).toBe(401);
    const res = await edge.inject({ method: 'GET', url: '/metrics/variants' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      models: { mnist: { requests: { champion: 12, challenger: 3 }, shadow: { agree: 11, disagree: 1 } } },
      replicas: [urls.a, urls.b],
      missing: [
        { replica: urls.hung, reason: 'no answer within 1500 ms' },
        { replica: urls.broken, reason: 'its /metrics answered 500' },
      ],
    });
  });
});
