import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { request } from '@mlpipe/bus';
import { ValidationError } from '@mlpipe/common';
import { ModelNameSchema, Sha256Schema } from '@mlpipe/contracts';
import type { RouteContext } from './context';

const BatchQuerySchema = z.object({ status: z.enum(['validated', 'rejected']).optional() }).strict();
const DriftQuerySchema = z.object({ model: ModelNameSchema.optional() }).strict();

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new ValidationError(`${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/**
 * The data page's API, all reads (viewer): the dataset watcher's batches (rejected ones with every
 * reason), its dataset versions and what one holds, and drift over time: the watcher's judged
 * windows beside the orchestrator's drift alerts with the retraining each caused.
 */
export function registerDataRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { roles, bus } = ctx;
  app.get('/api/data/batches', roles.viewer, async (req) => {
    const q = parse(BatchQuerySchema, req.query, 'bad batch query');
    return request(bus(), 'watcher.batches.list', { limit: 200, ...(q.status ? { status: q.status } : {}) });
  });
  app.get('/api/data/datasets', roles.viewer, async () => request(bus(), 'watcher.datasets.list', { limit: 50 }));
  app.get('/api/data/datasets/:id', roles.viewer, async (req) => {
    const id = Sha256Schema.safeParse((req.params as { id: string }).id);
    if (!id.success) throw new ValidationError('not a dataset version id (a lower-case hex SHA-256)');
    return request(bus(), 'watcher.datasets.get', { id: id.data });
  });
  app.get('/api/data/drift', roles.viewer, async (req) => {
    const q = parse(DriftQuerySchema, req.query, 'bad drift query');
    const model = q.model ? { modelName: q.model } : {};
    const [windows, alerts] = await Promise.all([request(bus(), 'watcher.drift.windows', { limit: 500, ...model }), request(bus(), 'orchestrator.drift.list', { limit: 100, ...model })]);
    return { windows: windows.windows, alerts: alerts.alerts };
  });
}
