import type { FastifyInstance } from 'fastify';
import type { AuthGuard } from '@mlpipe/auth';
import { isInferencePath } from './core/inferenceAccess';

/**
 * GATEWAY_AUTH=token: one hook for every inference route, of a model replica and of the edge alike,
 * asking for a valid token of any role (viewer and up). Without a guard (GATEWAY_AUTH=open) it adds nothing.
 */
export function requireTokenForInference(app: FastifyInstance, guard: AuthGuard | undefined): void {
  if (!guard) return;
  const viewer = guard.requireRole('viewer');
  app.addHook('onRequest', async (req, reply) => {
    if (isInferencePath(req.url)) await viewer(req, reply);
  });
}
