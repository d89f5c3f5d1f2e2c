import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { transform } from 'esbuild';
import { z } from 'zod';
import { ModelNameSchema, PIXELS, storeKeys } from '@mlpipe/contracts';
import { TransientError, ValidationError, type Logger } from '@mlpipe/common';
import { httpErrorHandler, registerOpsRoutes } from '@mlpipe/runtime';
import type { ObjectStore } from '@mlpipe/storage';
import { writeIncomingBatch } from '@mlpipe/dataset';
import type { Registry } from 'prom-client';
import { request, subscribeEvents, type Bus } from '@mlpipe/bus';
import type { EventType, SubmitJobRequest } from '@mlpipe/contracts';

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
}

const WEB = join(import.meta.dirname, '../web');
/** A correction: the 28×28 image the model saw (from /predict's input28) and the right label. */
const FeedbackSchema = z
  .object({ pixels: z.array(z.number().int().min(0).max(255)).length(PIXELS), label: z.number().int().min(0).max(9), predictionId: z.string().max(100).optional() })
  .strict();

/**
 * The web UI: the drawing page (TypeScript compiled once at start-up by esbuild), and a small API
 * that forwards to the gateway and registry and turns corrections into labelled batches.
 */
export async function buildUi(deps: UiDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: 3 * 1024 * 1024 });
  const compile = async (file: string) => (await transform(await readFile(join(WEB, file), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' })).code;
  const scripts: Record<string, string> = { 'app.js': await compile('app.ts'), 'experiments.js': await compile('experiments.ts'), 'jobs.js': await compile('jobs.ts') };
  const pages: Record<string, string> = {
    '/': await readFile(join(WEB, 'index.html'), 'utf8'),
    '/experiments': await readFile(join(WEB, 'experiments.html'), 'utf8'),
    '/jobs': await readFile(join(WEB, 'jobs.html'), 'utf8'),
  };
  const css = await readFile(join(WEB, 'style.css'), 'utf8');
  registerOpsRoutes(app, { metrics: deps.metrics, isReady: deps.isReady ?? (() => true) });
  await app.register(httpErrorHandler);

  for (const [path, html] of Object.entries(pages)) app.get(path, async (_req, reply) => reply.type('text/html').send(html));
  for (const [file, js] of Object.entries(scripts)) app.get(`/${file}`, async (_req, reply) => reply.type('text/javascript').send(js));
  app.get('/style.css', async (_req, reply) => reply.type('text/css').send(css));
  app.get('/api/config', async () => ({ registryUrl: deps.registryUrl, gatewayUrl: deps.gatewayUrl }));

  /** Forwards to a backend, passing its status and error through. */
  const forward = async (url: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (cause) {
      throw new TransientError(`${new URL(url).origin} did not answer`, { cause });
    }
    return { status: res.status, json: (await res.json()) as unknown };
  };
  app.get('/api/models/:name', async (req, reply) => {
    const name = ModelNameSchema.safeParse((req.params as { name: string }).name);
    if (!name.success) throw new ValidationError('bad model name');
    const r = await forward(`${deps.registryUrl}/models/${name.data}`);
    if (r.status === 404) return { versions: [] };
    const model = r.json as { versionList: unknown[] };
    return reply.code(r.status).send(r.status === 200 ? { versions: model.versionList } : r.json);
  });
  for (const path of ['predict', 'explain']) {
    app.post(`/api/${path}`, async (req, reply) => {
      const r = await forward(`${deps.gatewayUrl}/${path}`, req.body);
      return reply.code(r.status).send(r.json);
    });
  }
  // Read-only registry views for the experiments page: a fixed set of path shapes, never arbitrary URLs.
  app.get('/api/registry/*', async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    if (!/^(experiments\/[a-z0-9-]+\/runs|runs\/[A-Za-z0-9._-]+\/metrics|models\/[a-z0-9-]+)$/.test(path)) throw new ValidationError('not a registry view the UI offers');
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    const r = await forward(`${deps.registryUrl}/${path}${query}`);
    return reply.code(r.status).send(r.json);
  });

  const bus = (): Bus => {
    if (!deps.bus) throw new TransientError('the jobs page needs NATS: start the UI with NATS_URL reachable');
    return deps.bus;
  };
  app.get('/api/jobs', async () => request(bus(), 'orchestrator.jobs.list', { limit: 50 }));
  app.post('/api/jobs', async (req) => request(bus(), 'orchestrator.jobs.submit', (req.body ?? {}) as SubmitJobRequest));
  app.post('/api/jobs/:id/cancel', async (req) => request(bus(), 'orchestrator.jobs.cancel', { jobId: (req.params as { id: string }).id, reason: 'cancelled from the web UI' }));
  app.get('/api/jobs/events', (req, reply) => {
    const b = bus();
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    reply.raw.write(': connected\n\n');
    const types: EventType[] = ['train.job.started', 'train.job.progress', 'train.job.completed', 'train.job.failed', 'train.job.cancelled'];
    const subs = types.map((t) => subscribeEvents(b, t, (e) => reply.raw.write(`data: ${JSON.stringify({ type: e.type, data: e.data })}\n\n`), deps.logger));
    req.raw.on('close', () => subs.forEach((s) => s.unsubscribe()));
  });

  app.post('/api/feedback', async (req) => {
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
      note: `correction from the web UI${parsed.data.predictionId ? ` for prediction ${parsed.data.predictionId}` : ''}`,
    });
    return { batch: prefix };
  });
  return app;
}
