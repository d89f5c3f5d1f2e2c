import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { NotFoundError, TransientError } from '@mlpipe/common';
import { ModelNameSchema } from '@mlpipe/contracts';
import { modelMetadata, serverMetadata, validateDigitRequest } from '../core/oip';
import { encodeRestResponse, INFERENCE_HEADER_CONTENT_LENGTH, parseRestInferRequest } from '../core/oipRest';
import type { ModelSelector } from '../core/modelSelector';
import type { Route, Routing } from '../core/routing';
import type { ModelCache } from '../adapters/modelCache';
import type { Predictor } from '../app/predictor';
import { answerInference } from '../app/oipInference';

export interface OipRoutesOptions {
  models: ModelCache;
  routing: Routing;
  predictor: Predictor;
  isReady: () => boolean;
}

// Path parameters are checked before anything is looked up: a name is never used as a path unchecked.
const ModelParams = z.object({
  name: z
    .string()
    .refine(
      (s) => ModelNameSchema.safeParse(s).success,
      'model names are lower-case letters, digits and "-"',
    ),
});
const VersionParams = ModelParams.extend({
  version: z
    .string()
    .regex(/^[1-9]\d{0,8}$/, {
      error: (issue) => `model version "${String(issue.input).slice(0, 20)}" is not a positive whole number`,
    })
    .transform(Number),
});

/** The spec writes `/v2/`; clients also send `/v2`. Every route answers with and without the trailing slash. */
const bothSlashes = (path: string): string[] => [path, `${path}/`];

/**
 * The Open Inference Protocol v2 REST API: health, server and model metadata, readiness, and
 * inference by model (the routing policy picks the version) or by version, in JSON or with the
 * binary tensor data extension. Parsing and validation are core/oip*.ts; a malformed request is a
 * 400 with `{ "error": "…" }` (the shared error plugin), an unknown model or version 404, and a
 * gateway that is not ready answers 503 so the edge or the client tries elsewhere.
 */
export const oipRoutes: FastifyPluginAsync<OipRoutesOptions> = async (plain, o) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // Inference bodies are read as bytes whatever their content type: JSON, JSON + binary tensors, or
  // curl's default form type. core/oipRest.ts parses them, so malformed JSON is reported as such.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const requireReady = () => {
    if (!o.isReady())
      throw new TransientError(
        'the gateway is not ready (starting or shutting down); try again or another replica',
      );
  };

  for (const url of bothSlashes('/v2/health/live')) app.get(url, async () => ({ live: true }));
  for (const url of bothSlashes('/v2/health/ready'))
    app.get(url, async (_req, reply) => reply.code(o.isReady() ? 200 : 503).send({ ready: o.isReady() }));
  for (const url of bothSlashes('/v2')) app.get(url, async () => serverMetadata());

  const metadata = async (name: string, version?: number) => {
    const versions = await o.models.versions(name);
    if (version !== undefined && !versions.some((v) => v.version === version))
      throw new NotFoundError(`model ${name} has no version ${version}`);
    return modelMetadata(name, version !== undefined ? [version] : versions.map((v) => v.version));
  };
  for (const url of bothSlashes('/v2/models/:name'))
    app.get(url, { schema: { params: ModelParams } }, async (req) => metadata(req.params.name));
  for (const url of bothSlashes('/v2/models/:name/versions/:version')) {
    app.get(url, { schema: { params: VersionParams } }, async (req) =>
      metadata(req.params.name, req.params.version),
    );
  }

  const ready = async (sel: ModelSelector) => {
    requireReady();
    await o.models.get(sel);
    return { name: sel.name, ready: true };
  };
  for (const url of bothSlashes('/v2/models/:name/ready'))
    app.get(url, { schema: { params: ModelParams } }, async (req) =>
      ready(o.routing.byName(req.params.name)),
    );
  for (const url of bothSlashes('/v2/models/:name/versions/:version/ready')) {
    app.get(url, { schema: { params: VersionParams } }, async (req) =>
      ready({ name: req.params.name, version: req.params.version }),
    );
  }

  const infer = async (route: Route, req: FastifyRequest, reply: FastifyReply) => {
    requireReady();
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headerLength = req.headers[INFERENCE_HEADER_CONTENT_LENGTH];
    const request = parseRestInferRequest(body, Array.isArray(headerLength) ? headerLength[0] : headerLength);
    const answer = await answerInference(o.predictor, route, validateDigitRequest(request));
    const encoded = encodeRestResponse(answer, request);
    if (encoded.kind === 'json') return reply.send(encoded.body);
    return reply
      .header(INFERENCE_HEADER_CONTENT_LENGTH, encoded.headerLength)
      .type('application/octet-stream')
      .send(encoded.body);
  };
  for (const url of bothSlashes('/v2/models/:name/infer')) {
    app.post(url, { schema: { params: ModelParams } }, async (req, reply) =>
      infer(o.routing.forName(req.params.name), req, reply),
    );
  }
  for (const url of bothSlashes('/v2/models/:name/versions/:version/infer')) {
    app.post(url, { schema: { params: VersionParams } }, async (req, reply) =>
      infer(o.routing.forVersion(req.params.name, req.params.version), req, reply),
    );
  }
};
