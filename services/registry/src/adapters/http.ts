import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ARTEFACTS, ARTEFACT_FILES, AliasSchema, ModelNameSchema, artefactOfFile, storeKeys, type ArtefactFile } from '@mlpipe/contracts';
import { NotFoundError, type Logger } from '@mlpipe/common';
import { httpErrorHandler, registerOpsRoutes } from '@mlpipe/runtime';
import { registerTokenRoutes, registerWhoami, type AuthGuard, type TokenStore } from '@mlpipe/auth';
import type { ObjectStore } from '@mlpipe/storage';
import type { Registry } from 'prom-client';
import type { RegistryQueries } from './queries';
import type { ModelAliasChanged } from '@mlpipe/contracts';
import type { Pool } from '@mlpipe/db';
import { registerRunViewRoutes } from '../routes/runViews';

export interface HttpDeps {
  queries: RegistryQueries;
  /** For the read views in routes/ (the web UI's run and registry pages). */
  pool: Pool;
  /** Lineage of one sampled prediction (see lineage.ts). */
  lineage: (predictionId: string, model: string) => Promise<unknown>;
  store: ObjectStore;
  logger: Logger;
  metrics: Registry;
  isReady: () => boolean;
  /** Who the caller is and what its role allows (reads: viewer; alias moves: admin). */
  guard: AuthGuard;
  /** The API tokens, managed by admins at /auth/tokens. */
  tokens: TokenStore;
  promote: (model: string, alias: 'champion' | 'challenger', version: number, reason: string, actor: string) => Promise<ModelAliasChanged>;
}


const ModelParams = z.object({ name: ModelNameSchema });
const VersionParams = ModelParams.extend({ version: z.coerce.number().int().positive() });
/** The error shape of every HTTP edge (libs/runtime httpErrors.ts). */
const ErrorReply = z.object({ error: z.string(), code: z.string() });

/**
 * The registry's REST API: OpenAPI at /openapi.json, errors as { error, code } (one mapping for every edge).
 * Every route names the role it needs (reads: viewer; moving an alias: admin); the audit actor of a
 * move is the authenticated principal, never something the caller wrote in a header or the body.
 */
export async function buildRegistryApi(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(swagger, {
    openapi: { info: { title: 'mlpipe registry', version: '1.0.0', description: 'Experiments, runs, model versions, aliases and audit log' } },
    transform: jsonSchemaTransform,
  });
  await app.register(httpErrorHandler);
  registerOpsRoutes(app as unknown as FastifyInstance, deps);

  const q = deps.queries;
  const errors = { 200: z.unknown(), 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };
  const viewer = { onRequest: deps.guard.requireRole('viewer') };
  registerWhoami(app as unknown as FastifyInstance, deps.guard);
  registerTokenRoutes(app as unknown as FastifyInstance, deps.guard, deps.tokens);
  app.get('/openapi.json', { ...viewer, schema: { hide: true } }, async () => app.swagger());
  app.get('/experiments', { ...viewer, schema: { summary: 'List experiments' } }, async () => ({ experiments: await q.experiments() }));
  app.get(
    '/experiments/:name/runs',
    {
      ...viewer,
      schema: {
        summary: 'Runs of an experiment, sorted by a metric',
        params: ModelParams,
        querystring: z.object({ sort: z.string().regex(/^[a-z0-9_]+$/).default('test_accuracy'), order: z.enum(['asc', 'desc']).default('desc') }),
        response: errors,
      },
    },
    async (req) => ({ runs: await q.runs(req.params.name, req.query.sort, req.query.order) }),
  );
  const RunParams = z.object({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/) });
  app.get('/runs/:id', { ...viewer, schema: { summary: 'A run with its latest metrics', params: RunParams, response: errors } }, async (req) => q.run(req.params.id));
  app.get('/runs/:id/metrics', { ...viewer, schema: { summary: 'Every metric of a run, per step', params: RunParams, response: errors } }, async (req) => ({
    metrics: await q.runMetrics(req.params.id),
  }));
  app.get('/models', { ...viewer, schema: { summary: 'Registered models with their aliases' } }, async () => ({ models: await q.models() }));
  app.get('/models/:name', { ...viewer, schema: { summary: 'A model, its versions and aliases', params: ModelParams, response: errors } }, async (req) => q.model(req.params.name));
  app.get('/models/:name/versions/:version', { ...viewer, schema: { summary: 'One model version', params: VersionParams, response: errors } }, async (req) =>
    q.version(req.params.name, req.params.version),
  );
  app.get(
    '/models/:name/aliases/:alias',
    { ...viewer, schema: { summary: 'The version an alias points at', params: ModelParams.extend({ alias: AliasSchema }), response: errors } },
    async (req) => q.alias(req.params.name, req.params.alias),
  );
  app.post(
    '/models/:name/aliases/:alias',
    {
      onRequest: deps.guard.requireRole('admin'),
      schema: {
        summary: 'Point an alias at a version by hand (audited; needs an admin token)',
        params: ModelParams.extend({ alias: AliasSchema }),
        body: z.object({ version: z.number().int().positive(), reason: z.string().min(3).max(500) }).strict(),
        response: errors,
      },
    },
    async (req) => deps.promote(req.params.name, req.params.alias, req.body.version, req.body.reason, deps.guard.principalOf(req).name),
  );
  app.get(
    '/models/:name/versions/:version/artefacts/:file',
    { ...viewer, schema: { summary: 'Download a stored artefact of a version', params: VersionParams.extend({ file: z.enum(ARTEFACT_FILES as [ArtefactFile, ...ArtefactFile[]]) }), response: errors } },
    async (req, reply) => {
      const v = await q.version(req.params.name, req.params.version);
      const artefact = artefactOfFile(req.params.file);
      if (!artefact) throw new NotFoundError(`no artefact ${req.params.file}`);
      // Only a verified export is stored; say why a version has none instead of a bare miss.
      if (artefact === 'onnx' && v.onnx?.status !== 'verified') throw new NotFoundError(`${v.model} v${v.version} has no ONNX export: ${v.onnx?.reason ?? 'it was registered before ONNX export existed'}`);
      const bytes = await deps.store.get(storeKeys.artefact(v.artefactPrefix, artefact));
      return reply.type(ARTEFACTS[artefact].contentType).send(Buffer.from(bytes));
    },
  );
  app.get(
    '/lineage/predictions/:id',
    {
      ...viewer,
      schema: {
        summary: 'From a prediction id to its model version, run, code version, dataset version and gate decision',
        params: z.object({ id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) }),
        querystring: z.object({ model: ModelNameSchema.default('mnist') }),
        response: errors,
      },
    },
    async (req) => deps.lineage(req.params.id, req.query.model),
  );
  app.get(
    '/audit',
    { ...viewer, schema: { summary: 'The append-only audit log, newest first', querystring: z.object({ model: ModelNameSchema.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }) } },
    async (req) => ({ entries: await q.audit(req.query.model, req.query.limit) }),
  );
  registerRunViewRoutes(app as unknown as FastifyInstance, { pool: deps.pool, store: deps.store, queries: q, guard: deps.guard });
  return app as unknown as FastifyInstance;
}
