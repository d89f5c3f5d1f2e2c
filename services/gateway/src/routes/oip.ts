import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { NotFoundError } from '@mlpipe/common';
import { ModelNameSchema } from '@mlpipe/contracts';
import { digitToBytes } from '@mlpipe/ml';
import { InferenceRequestSchema, inferenceResponse, modelMetadata, requestImages } from '../core/oip';
import type { ModelSelector } from '../core/modelSelector';
import type { Route, Routing } from '../core/routing';
import type { ModelCache } from '../adapters/modelCache';
import type { Predictor } from '../app/predictor';

export interface OipRoutesOptions {
  models: ModelCache;
  routing: Routing;
  predictor: Predictor;
  isReady: () => boolean;
}

// Path parameters are checked before anything is looked up: a name is never used as a path unchecked.
const ModelParams = z.object({
  name: z.string().refine((s) => ModelNameSchema.safeParse(s).success, 'model names are lower-case letters, digits and "-"'),
});
const VersionParams = ModelParams.extend({
  version: z
    .string()
    .regex(/^[1-9]\d{0,8}$/, { error: (issue) => `model version "${String(issue.input).slice(0, 20)}" is not a positive whole number` })
    .transform(Number),
});

/**
 * The Open Inference Protocol v2 REST API: health, server and model metadata, readiness, and
 * inference by model (the routing policy picks the version) or by version. A malformed request is
 * a 400 with `{ "error": "…" }`, as the protocol says (the schemas here, the shared error plugin).
 */
export const oipRoutes: FastifyPluginAsync<OipRoutesOptions> = async (plain, o) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);

  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => reply.code(o.isReady() ? 200 : 503).send({ ready: o.isReady() }));
  app.get('/v2', async () => ({ name: 'mlpipe-gateway', version: '0.1.0', extensions: [] }));

  const metadata = async (name: string, version?: number) => {
    const versions = await o.models.versions(name);
    if (version !== undefined && !versions.some((v) => v.version === version)) throw new NotFoundError(`model ${name} has no version ${version}`);
    return modelMetadata(name, version !== undefined ? [version] : versions.map((v) => v.version));
  };
  app.get('/v2/models/:name', { schema: { params: ModelParams } }, async (req) => metadata(req.params.name));
  app.get('/v2/models/:name/versions/:version', { schema: { params: VersionParams } }, async (req) => metadata(req.params.name, req.params.version));

  const ready = async (sel: ModelSelector) => {
    await o.models.get(sel);
    return { name: sel.name, ready: true };
  };
  app.get('/v2/models/:name/ready', { schema: { params: ModelParams } }, async (req) => ready(o.routing.byName(req.params.name)));
  app.get('/v2/models/:name/versions/:version/ready', { schema: { params: VersionParams } }, async (req) =>
    ready({ name: req.params.name, version: req.params.version }),
  );

  const infer = async (route: Route, body: z.infer<typeof InferenceRequestSchema>) => {
    const { values, range } = requestImages(body);
    const images = values.map((v) => digitToBytes({ kind: 'array28', values: v, range }));
    const { loaded, probabilities, variant, predictionIds } = await o.predictor.answer(route, images);
    return { ...inferenceResponse(loaded.name, loaded.version, probabilities, body.id), parameters: { variant, prediction_ids: predictionIds.join(',') } };
  };
  app.post('/v2/models/:name/infer', { schema: { params: ModelParams, body: InferenceRequestSchema } }, async (req) =>
    infer(o.routing.forName(req.params.name), req.body),
  );
  app.post('/v2/models/:name/versions/:version/infer', { schema: { params: VersionParams, body: InferenceRequestSchema } }, async (req) =>
    infer(o.routing.forVersion(req.params.name, req.params.version), req.body),
  );
};
