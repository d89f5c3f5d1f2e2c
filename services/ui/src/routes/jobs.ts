import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { request, subscribeEvents } from '@mlpipe/bus';
import type { EventType, SubmitJobRequest } from '@mlpipe/contracts';
import { StreamCap, rateLimitConfig } from '../limits';
import type { RouteContext } from './context';

/** The jobs page's API: list, submit and cancel through the orchestrator (NATS request/reply), live training events as SSE. */
export function registerJobRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { deps, guard, roles, limits, bus } = ctx;
  app.get('/api/jobs', roles.viewer, async () => request(bus(), 'orchestrator.jobs.list', { limit: 50 }));
  // The orchestrator counts quotas by submittedBy: it is the signed-in principal, never what the body says.
  app.post('/api/jobs', { ...roles.operatorPost, config: rateLimitConfig(limits.jobsRateMax, limits.rateWindowMs) }, async (req) =>
    request(bus(), 'orchestrator.jobs.submit', { ...((req.body ?? {}) as SubmitJobRequest), submittedBy: guard.principalOf(req).name }),
  );
  app.post('/api/jobs/:id/cancel', roles.operatorPost, async (req) =>
    request(bus(), 'orchestrator.jobs.cancel', { jobId: (req.params as { id: string }).id, reason: `cancelled from the web UI by ${guard.principalOf(req).name}` }),
  );
  const streams = new StreamCap(limits.sseMaxConnections);
  new Gauge({ name: 'mlpipe_ui_live_streams', help: 'Open /api/jobs/events streams (capped by UI_SSE_MAX_CONNECTIONS)', registers: [deps.metrics], collect() { this.set(streams.size); } });
  app.get('/api/jobs/events', roles.viewer, (req, reply) => {
    const b = bus();
    const release = streams.acquire();
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    reply.raw.write(': connected\n\n');
    const types: EventType[] = ['train.job.started', 'train.job.progress', 'train.job.completed', 'train.job.failed', 'train.job.cancelled'];
    const subs = types.map((t) => subscribeEvents(b, t, (e) => reply.raw.write(`data: ${JSON.stringify({ type: e.type, data: e.data })}\n\n`), deps.logger));
    req.raw.on('close', () => {
      subs.forEach((s) => s.unsubscribe());
      release();
    });
  });
}
