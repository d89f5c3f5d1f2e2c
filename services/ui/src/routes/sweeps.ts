import type { FastifyInstance } from 'fastify';
import { request } from '@mlpipe/bus';
import { ValidationError } from '@mlpipe/common';
import { IdSchema, type RequestOf } from '@mlpipe/contracts';
import { rateLimitConfig } from '../limits';
import type { RouteContext } from './context';

/**
 * The sweeps page's API, through the orchestrator (NATS request/reply): the newest sweeps with their
 * trials (hyperparameters, curves, pruned with the rule's reason, the best), one sweep, and a new
 * grid or random sweep. Viewers read; operators submit (rate-limited like jobs: each trial takes a trainer).
 */
export function registerSweepRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { guard, roles, limits, bus } = ctx;
  app.get('/api/sweeps', roles.viewer, async () => request(bus(), 'orchestrator.sweeps.list', { limit: 20 }));
  app.get('/api/sweeps/:id', roles.viewer, async (req) => {
    const id = IdSchema.safeParse((req.params as { id: string }).id);
    if (!id.success) throw new ValidationError('not a sweep id');
    return request(bus(), 'orchestrator.sweeps.get', { sweepId: id.data });
  });
  // As for jobs: quotas count by submittedBy, which is the signed-in principal, never what the body says.
  app.post('/api/sweeps', { ...roles.operatorPost, config: rateLimitConfig(limits.jobsRateMax, limits.rateWindowMs) }, async (req) =>
    request(bus(), 'orchestrator.sweeps.submit', { ...((req.body ?? {}) as RequestOf<'orchestrator.sweeps.submit'>), submittedBy: guard.principalOf(req).name }),
  );
}
