import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ARTEFACTS, AliasSchema, ModelNameSchema, type ArtefactName } from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';
import { readGatewayTraffic } from '../adapters/gatewayTraffic';
import type { RouteContext } from './context';

/**
 * The registry views the pages read, as a fixed list of path shapes: the UI forwards these and no
 * other URL (the onRequest hook has already refused dot segments and encoded slashes).
 */
const REGISTRY_VIEWS: readonly RegExp[] = [
  /^experiments$/,
  /^experiments\/[a-z0-9-]+\/runs$/,
  /^experiments\/[a-z0-9-]+\/metrics\/latest$/,
  /^runs\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/,
  /^runs\/[A-Za-z0-9_-][A-Za-z0-9._-]*\/metrics$/,
  /^runs\/[A-Za-z0-9_-][A-Za-z0-9._-]*\/registration$/,
  /^models$/,
  /^models\/[a-z0-9-]+$/,
  /^models\/[a-z0-9-]+\/versions\/[0-9]{1,9}$/,
  /^models\/[a-z0-9-]+\/decisions$/,
  /^datasets\/[a-z0-9-]+\/versions\/[0-9a-f]{64}$/,
  /^audit$/,
];

const ArtefactParams = z.object({ name: ModelNameSchema, version: z.coerce.number().int().positive(), artefact: z.enum(Object.keys(ARTEFACTS) as [ArtefactName, ...ArtefactName[]]) });
const AliasParams = z.object({ name: ModelNameSchema, alias: AliasSchema });
const AliasBody = z.object({ version: z.number().int().positive(), reason: z.string().min(3).max(500) }).strict();

const parse = <T>(schema: z.ZodType<T>, value: unknown, what: string): T => {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`);
  return r.data;
};

/** The run, compare and registry pages' API: allow-listed reads, artefact downloads, and admins' alias moves. */
export function registerRegistryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { deps, roles, forward, forwardBytes } = ctx;
  app.get('/api/registry/*', roles.viewer, async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    if (!REGISTRY_VIEWS.some((shape) => shape.test(path))) throw new ValidationError('not a registry view the UI offers');
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    const r = await forward(req, `${deps.registryUrl}/${path}${query}`);
    return reply.code(r.status).send(r.json);
  });

  // A download of a version's stored file (model card, confusion matrix, weights, ONNX) with the caller's token.
  // Pages name the artefact (modelCard, onnx, ...), never a store file name: keys.ts alone knows those.
  app.get('/api/artefacts/:name/:version/:artefact', roles.viewer, async (req, reply) => {
    const p = parse(ArtefactParams, req.params, 'not an artefact the UI offers');
    const file = ARTEFACTS[p.artefact].file;
    const r = await forwardBytes(req, `${deps.registryUrl}/models/${p.name}/versions/${p.version}/artefacts/${file}`);
    if (r.status === 200) void reply.header('content-disposition', `attachment; filename="${p.name}-v${p.version}-${file}"`);
    return reply.code(r.status).type(r.type).send(r.body);
  });

  // The live split of a model's traffic (canary share, shadow agreement) from the replicas' counters,
  // summed by the edge when GATEWAY_URL is one (see adapters/gatewayTraffic.ts).
  app.get('/api/models/:name/traffic', roles.viewer, async (req) => {
    const { name } = parse(z.object({ name: ModelNameSchema }), req.params, 'bad model name');
    return readGatewayTraffic(deps.gatewayUrl, name);
  });

  // Promote, roll back (champion to an older version) or set the challenger: the registry checks the
  // caller's token again (admin) and audits the move under the caller's name.
  app.post('/api/models/:name/aliases/:alias', roles.adminPost, async (req, reply) => {
    const p = parse(AliasParams, req.params, 'not an alias the UI moves');
    const body = parse(AliasBody, req.body, 'send {"version": N, "reason": "why"}');
    const r = await forward(req, `${deps.registryUrl}/models/${p.name}/aliases/${p.alias}`, body);
    return reply.code(r.status).send(r.json);
  });
}
