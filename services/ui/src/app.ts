import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { transform } from 'esbuild';
import { z } from 'zod';
import { ModelNameSchema, PIXELS, storeKeys } from '@mlpipe/contracts';
import { TransientError, ValidationError, type Logger } from '@mlpipe/common';
import { httpErrorHandler, registerOpsRoutes } from '@mlpipe/runtime';
import { remoteResolver, type AnonymousRole, type CredentialResolver } from '@mlpipe/auth';
import type { ObjectStore } from '@mlpipe/storage';
import { writeIncomingBatch } from '@mlpipe/dataset';
import { Gauge, type Registry } from 'prom-client';
import { request, subscribeEvents, type Bus } from '@mlpipe/bus';
import type { EventType, SubmitJobRequest } from '@mlpipe/contracts';
import { proxyPathProblem } from './core/proxyPath';
import { registerSession } from './session';
import { DEFAULT_UI_LIMITS, StreamCap, rateLimitConfig, registerRateLimits, type UiLimits } from './limits';

export interface UiDeps {
  /** For the jobs page: requests to the orchestrator and live training events. */
  bus?: Bus;
  gatewayUrl: string;
  registryUrl: string;
  /** Where corrections go: the bucket the dataset watcher watches. */
  store: ObjectStore;
  dataPrefix: string;
  metrics: Registry;
  logger: Logger;
  /** The process's readiness (the runtime's); always ready without it. */
  isReady?: () => boolean;
  /** Who the caller is: by default tokens are checked with the registry (GET /auth/whoami), cached for cacheMs. */
  auth?: { resolve?: CredentialResolver; anonymousRole?: AnonymousRole; cacheMs?: number };
  session?: { secret?: string | undefined; maxAgeS?: number; secure?: boolean };
  limits?: Partial<UiLimits>;
}

const WEB = join(import.meta.dirname, '../web');
const PAGES = { '/': 'index.html', '/experiments': 'experiments.html', '/jobs': 'jobs.html', '/login': 'login.html' } as const;
const SCRIPTS = ['session', 'app', 'experiments', 'jobs', 'login'] as const;
/** A correction: the 28×28 image the model saw (from /predict's input28) and the right label. */
const FeedbackSchema = z
  .object({ pixels: z.array(z.number().int().min(0).max(255)).length(PIXELS), label: z.number().int().min(0).max(9), predictionId: z.string().max(100).optional() })
  .strict();

/**
 * The web UI: the pages (TypeScript compiled once at start-up by esbuild), sign-in with a session
 * cookie, and a small API that forwards to the gateway and registry with the caller's own token and
 * turns corrections into labelled batches. Every /api route names the role it needs (reads: viewer;
 * jobs, feedback: operator); every POST needs the CSRF token.
 */
export async function buildUi(deps: UiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 3 * 1024 * 1024,
    // A URL the router cannot even decode (`%zz`) gets the same error shape as every other refusal.
    frameworkErrors: (err, _req, reply) => void (reply as FastifyReply).code(400).send({ error: `${err.message}: not a path the UI forwards`, code: 'invalid' }),
  });
  const limits = { ...DEFAULT_UI_LIMITS, ...deps.limits };
  const compile = async (file: string) => (await transform(await readFile(join(WEB, file), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' })).code;
  const scripts = Object.fromEntries(await Promise.all(SCRIPTS.map(async (s) => [`${s}.js`, await compile(`${s}.ts`)] as const)));
  const pages = Object.fromEntries(await Promise.all(Object.entries(PAGES).map(async ([path, file]) => [path, await readFile(join(WEB, file), 'utf8')] as const)));
  const css = await readFile(join(WEB, 'style.css'), 'utf8');
  registerOpsRoutes(app, { metrics: deps.metrics, isReady: deps.isReady ?? (() => true) });
  await app.register(httpErrorHandler);

  // Before routing to any handler: paths the UI would forward must be plain (no dot segments, no encoded slashes).
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/api/')) return;
    const problem = proxyPathProblem(req.url);
    if (problem) throw new ValidationError(`${problem}: not a path the UI forwards`);
  });
  const session = await registerSession(app, {
    resolve: deps.auth?.resolve ?? remoteResolver({ registryUrl: deps.registryUrl, cacheMs: deps.auth?.cacheMs ?? 30_000 }),
    anonymousRole: deps.auth?.anonymousRole ?? 'viewer',
    secret: deps.session?.secret,
    maxAgeS: deps.session?.maxAgeS ?? 8 * 3600,
    secure: deps.session?.secure ?? false,
  });
  const { guard } = session;
  await registerRateLimits(app, guard);
  const viewer = { onRequest: guard.requireRole('viewer') };
  const operatorPost = { onRequest: [session.csrf, guard.requireRole('operator')] };
  const viewerPost = { onRequest: [session.csrf, guard.requireRole('viewer')] };

  for (const [path, html] of Object.entries(pages)) app.get(path, async (_req, reply) => reply.type('text/html').send(html));
  for (const [file, js] of Object.entries(scripts)) app.get(`/${file}`, async (_req, reply) => reply.type('text/javascript').send(js));
  app.get('/style.css', async (_req, reply) => reply.type('text/css').send(css));
  app.get('/api/config', viewer, async () => ({ registryUrl: deps.registryUrl, gatewayUrl: deps.gatewayUrl }));

  /** Forwards to a backend with the caller's token (so the backend checks it and audits the real user), passing its status and error through. */
  const forward = async (req: FastifyRequest, url: string, body?: unknown) => {
    const credential = session.credentialOf(req);
    const headers: Record<string, string> = credential ? { authorization: `Bearer ${credential}` } : {};
    let res: Response;
    try {
      res = await fetch(url, body === undefined ? { headers } : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (cause) {
      throw new TransientError(`${new URL(url).origin} did not answer`, { cause });
    }
    const json = (await res.json().catch(() => undefined)) as unknown;
    if (json === undefined) throw new TransientError(`${new URL(url).origin} answered ${res.status} without JSON`);
    return { status: res.status, json };
  };
  app.get('/api/models/:name', viewer, async (req, reply) => {
    const name = ModelNameSchema.safeParse((req.params as { name: string }).name);
    if (!name.success) throw new ValidationError('bad model name');
    const r = await forward(req, `${deps.registryUrl}/models/${name.data}`);
    if (r.status === 404) return { versions: [] };
    const model = r.json as { versionList: unknown[] };
    return reply.code(r.status).send(r.status === 200 ? { versions: model.versionList } : r.json);
  });
  for (const path of ['predict', 'explain']) {
    app.post(`/api/${path}`, viewerPost, async (req, reply) => {
      const r = await forward(req, `${deps.gatewayUrl}/${path}`, req.body);
      return reply.code(r.status).send(r.json);
    });
  }
  // Read-only registry views for the experiments page: a fixed set of path shapes, never arbitrary URLs.
  app.get('/api/registry/*', viewer, async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    if (!/^(experiments\/[a-z0-9-]+\/runs|runs\/[A-Za-z0-9_-][A-Za-z0-9._-]*\/metrics|models\/[a-z0-9-]+)$/.test(path)) throw new ValidationError('not a registry view the UI offers');
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    const r = await forward(req, `${deps.registryUrl}/${path}${query}`);
    return reply.code(r.status).send(r.json);
  });

  const bus = (): Bus => {
    if (!deps.bus) throw new TransientError('the jobs page needs NATS: start the UI with NATS_URL reachable');
    return deps.bus;
  };
  app.get('/api/jobs', viewer, async () => request(bus(), 'orchestrator.jobs.list', { limit: 50 }));
  // The orchestrator counts quotas by submittedBy: it is the signed-in principal, never what the body says.
  app.post('/api/jobs', { ...operatorPost, config: rateLimitConfig(limits.jobsRateMax, limits.rateWindowMs) }, async (req) =>
    request(bus(), 'orchestrator.jobs.submit', { ...((req.body ?? {}) as SubmitJobRequest), submittedBy: guard.principalOf(req).name }),
  );
  app.post('/api/jobs/:id/cancel', operatorPost, async (req) =>
    request(bus(), 'orchestrator.jobs.cancel', { jobId: (req.params as { id: string }).id, reason: `cancelled from the web UI by ${guard.principalOf(req).name}` }),
  );
  const streams = new StreamCap(limits.sseMaxConnections);
  new Gauge({ name: 'mlpipe_ui_live_streams', help: 'Open /api/jobs/events streams (capped by UI_SSE_MAX_CONNECTIONS)', registers: [deps.metrics], collect() { this.set(streams.size); } });
  app.get('/api/jobs/events', viewer, (req, reply) => {
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

  app.post('/api/feedback', { ...operatorPost, config: rateLimitConfig(limits.feedbackRateMax, limits.rateWindowMs) }, async (req) => {
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
  return app;
}
