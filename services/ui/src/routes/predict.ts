import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ModelNameSchema, PIXELS, storeKeys } from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';
import { writeIncomingBatch } from '@mlpipe/dataset';
import { rateLimitConfig } from '../limits';
import type { RouteContext } from './context';

/** A correction: the 28×28 image the model saw (from /predict's input28) and the right label. */
const FeedbackSchema = z
  .object({ pixels: z.array(z.number().int().min(0).max(255)).length(PIXELS), label: z.number().int().min(0).max(9), predictionId: z.string().max(100).optional() })
  .strict();

/** The draw page's API: the model's versions, predict and explain through the gateway, and corrections into the bucket. */
export function registerPredictRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { deps, guard, roles, limits, forward } = ctx;
  app.get('/api/models/:name', roles.viewer, async (req, reply) => {
    const name = ModelNameSchema.safeParse((req.params as { name: string }).name);
    if (!name.success) throw new ValidationError('bad model name');
    const r = await forward(req, `${deps.registryUrl}/models/${name.data}`);
    if (r.status === 404) return { versions: [] };
    const model = r.json as { versionList: unknown[] };
    return reply.code(r.status).send(r.status === 200 ? { versions: model.versionList } : r.json);
  });
  for (const path of ['predict', 'explain']) {
    app.post(`/api/${path}`, roles.viewerPost, async (req, reply) => {
      const r = await forward(req, `${deps.gatewayUrl}/${path}`, req.body);
      return reply.code(r.status).send(r.json);
    });
  }
  app.post('/api/feedback', { ...roles.operatorPost, config: rateLimitConfig(limits.feedbackRateMax, limits.rateWindowMs) }, async (req) => {
    const parsed = FeedbackSchema.safeParse(req.body);
    if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const batch = `feedback-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
    const prefix = storeKeys.incomingBatch(deps.dataPrefix, batch);
    // The same path as any new data: a PNG + labels CSV batch, its batch.json written last.
    await writeIncomingBatch(deps.store, prefix, {
      dataset: 'mnist',
      split: 'train',
      format: 'png-csv',
      set: { images: Uint8Array.from(parsed.data.pixels), labels: Uint8Array.of(parsed.data.label), count: 1 },
      note: `correction from the web UI by ${guard.principalOf(req).name}${parsed.data.predictionId ? ` for prediction ${parsed.data.predictionId}` : ''}`,
    });
    return { batch: prefix };
  });
}
