import type { FastifyPluginAsync } from 'fastify';
import type { ModelCache } from '../adapters/modelCache';

/** `GET /models`: every registered model with its versions, aliases and test accuracy (the web page's list). */
export const modelRoutes: FastifyPluginAsync<{ models: ModelCache }> = async (app, o) => {
  app.get('/models', async () => o.models.listModels());
};
