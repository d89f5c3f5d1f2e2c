import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { MlpipeError, NotFoundError, ValidationError, registerOpsRoutes, type Logger } from '@mlpipe/common';
import { ModelNameSchema } from '@mlpipe/contracts';
import { PNG } from 'pngjs';
import { digitToBytes, imagesToTensor, saliencyMap, PIXELS, type DigitInput } from '@mlpipe/ml';
import { Counter, Histogram, type Registry } from 'prom-client';
import { InferenceRequestSchema, argmax, inferenceResponse, modelMetadata, requestImages } from './core/oip';
import { parseSelector, type ModelSelector } from './core/modelSelector';
import { NO_CANARY, routeRequest, type TrafficPolicy } from './core/traffic';
import type { ModelCache } from './adapters/modelCache';
import type { PredictionLog } from './adapters/predictionLog';

export interface GatewayDeps {
  models: ModelCache;
  metrics: Registry;
  logger: Logger;
  isReady: () => boolean;
  bodyLimitBytes?: number;
  /** A pinned version served when a request names only the model (MODEL_VERSION); else the champion. */
  pinnedVersion?: number | undefined;
  /** Champion/challenger split for requests that name only the model (ignored when a version is pinned). */
  traffic?: TrafficPolicy;
  /** Where sampled predictions go (drift monitoring, lineage); none: nothing is kept. */
  predictionLog?: PredictionLog | undefined;
  /** Uniform [0,1) draws for the canary split (tests pass a seeded one). */
  random?: () => number;
}

type ServedVariant = 'champion' | 'challenger' | 'pinned' | 'named';

/** How a request is answered: the selector, what kind of choice it was, and who shadows it. */
interface Route {
  selector: ModelSelector;
  variant: ServedVariant;
  shadow: ModelSelector | null;
}

const STATUS: Record<string, number> = { invalid: 422, not_found: 404, conflict: 409, transient: 503 };
const PredictJsonSchema = z
  .object({
    model: z.string().max(100).default('mnist'),
    image: z.string().max(2_000_000).optional(),
    pixels: z.array(z.union([z.number(), z.array(z.number())])).optional(),
    range: z.enum(['unit', 'byte']).default('unit'),
  })
  .strict();

/**
 * The inference gateway: the Open Inference Protocol v2 REST API, `POST /predict` for images and
 * arrays, and `GET /models`. Models are loaded from the registry and answered in this process.
 * Errors use the OIP shape `{ "error": "…" }`; bad input is a 4xx, never a 5xx.
 */
export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024 });
  const latency = new Histogram({ name: 'mlpipe_inference_seconds', help: 'Inference latency by model version', labelNames: ['model', 'version'], buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1], registers: [deps.metrics] });
  const predicted = new Counter({ name: 'mlpipe_predicted_class_total', help: 'Predictions by class', labelNames: ['model', 'version', 'class'], registers: [deps.metrics] });
  // Top-class probability: a falling distribution warns of drift before labels arrive to show lost accuracy.
  const confidence = new Histogram({ name: 'mlpipe_prediction_confidence', help: 'Probability of the predicted (top) class', labelNames: ['model', 'version'], buckets: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99], registers: [deps.metrics] });
  const variants = new Counter({ name: 'mlpipe_variant_requests_total', help: 'Requests by the variant that answered (champion, challenger, pinned, named)', labelNames: ['model', 'variant'], registers: [deps.metrics] });
  const shadowed = new Counter({ name: 'mlpipe_shadow_predictions_total', help: 'Shadow predictions of the challenger, by agreement with the answer returned', labelNames: ['model', 'agree'], registers: [deps.metrics] });
  const traffic = deps.traffic ?? NO_CANARY;
  const draw = deps.random ?? Math.random;

  app.addContentTypeParser(['image/png', 'image/jpeg'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof MlpipeError) {
      const status = STATUS[err.code] ?? 500;
      if (status >= 500) req.log.warn({ err }, 'inference dependency failed');
      return reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status < 500) return reply.code(status).send({ error: (err as Error).message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));
  registerOpsRoutes(app, deps);

  const predict = async (sel: ModelSelector, images: Uint8Array[]) => {
    const loaded = await deps.models.get(sel);
    const started = performance.now();
    const bytes = new Uint8Array(images.length * PIXELS);
    images.forEach((img, i) => bytes.set(img, i * PIXELS));
    const probabilities = tf.tidy(() => (loaded.model.predict(imagesToTensor(bytes, images.length)) as tf.Tensor2D).arraySync());
    const seconds = (performance.now() - started) / 1000;
    latency.observe({ model: loaded.name, version: String(loaded.version) }, seconds);
    for (const p of probabilities) {
      predicted.inc({ model: loaded.name, version: String(loaded.version), class: String(argmax(p)) });
      confidence.observe({ model: loaded.name, version: String(loaded.version) }, Math.max(...p));
    }
    return { loaded, probabilities, seconds };
  };

  /** Samples what a model saw and said, for drift monitoring and lineage. */
  const record = (predictionId: string, loaded: { name: string; version: number }, variant: ServedVariant | 'shadow', seen: Uint8Array, p: number[]) =>
    deps.predictionLog?.offer({
      predictionId,
      at: new Date().toISOString(),
      model: loaded.name,
      version: loaded.version,
      variant,
      class: argmax(p),
      confidence: Math.max(...p),
      input28: Buffer.from(seen).toString('base64'),
    });

  /** Answers by the route; a canary draw with no challenger registered falls back to the champion. */
  const predictRouted = async (route: Route, images: Uint8Array[]) => {
    try {
      const out = await predict(route.selector, images);
      variants.inc({ model: out.loaded.name, variant: route.variant });
      return { ...out, variant: route.variant };
    } catch (err) {
      if (!(err instanceof NotFoundError) || route.variant !== 'challenger') throw err;
      return predictRouted({ selector: { name: route.selector.name, alias: 'champion' }, variant: 'champion', shadow: null }, images);
    }
  };

  /** The challenger scores the same inputs after the answer went out; logged and counted, never returned. */
  const shadow = (route: Route, images: Uint8Array[], answered: number[][], ids: string[]) => {
    if (!route.shadow) return;
    const selector = route.shadow;
    setImmediate(() => {
      predict(selector, images).then(
        ({ loaded, probabilities }) => {
          probabilities.forEach((p, i) => {
            const agree = argmax(p) === argmax(answered[i] as number[]);
            shadowed.inc({ model: loaded.name, agree: String(agree) });
            record(ids[i] as string, loaded, 'shadow', images[i] as Uint8Array, p);
          });
          deps.logger.info({ predictionIds: ids, shadowVersion: loaded.version, shadowClasses: probabilities.map(argmax), answered: answered.map(argmax) }, 'shadow prediction');
        },
        (err: unknown) => {
          if (!(err instanceof NotFoundError)) deps.logger.warn({ err }, 'shadow prediction failed');
        },
      );
    });
  };

  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => reply.code(deps.isReady() ? 200 : 503).send({ ready: deps.isReady() }));
  app.get('/v2', async () => ({ name: 'mlpipe-gateway', version: '0.1.0', extensions: [] }));

  const nameOf = (params: unknown) => {
    const parsed = ModelNameSchema.safeParse((params as { name?: unknown }).name);
    if (!parsed.success) throw new ValidationError('model names are lower-case letters, digits and "-"');
    return parsed.data;
  };
  const versionOf = (params: unknown) => {
    const text = (params as { version?: string }).version ?? '';
    if (!/^[1-9]\d{0,8}$/.test(text)) throw new ValidationError(`model version "${text.slice(0, 20)}" is not a positive whole number`);
    return Number(text);
  };
  const metadata = async (name: string, version?: number) => {
    const versions = await deps.models.versions(name);
    if (version !== undefined && !versions.some((v) => v.version === version)) throw new NotFoundError(`model ${name} has no version ${version}`);
    return modelMetadata(name, version !== undefined ? [version] : versions.map((v) => v.version));
  };
  app.get('/v2/models/:name', async (req) => metadata(nameOf(req.params)));
  app.get('/v2/models/:name/versions/:version', async (req) => metadata(nameOf(req.params), versionOf(req.params)));
  const ready = async (sel: ModelSelector) => {
    await deps.models.get(sel);
    return { name: sel.name, ready: true };
  };
  /** What "this model" means when no version or alias is named: the pinned version, else the champion. */
  const byName = (name: string): ModelSelector => (deps.pinnedVersion ? { name, version: deps.pinnedVersion } : { name, alias: 'champion' });
  /** A request naming only the model: the pinned version, else champion or challenger by the traffic policy. */
  const routeByName = (name: string): Route => {
    if (deps.pinnedVersion) return { selector: { name, version: deps.pinnedVersion }, variant: 'pinned', shadow: null };
    const r = routeRequest(traffic, draw());
    return { selector: { name, alias: r.serve }, variant: r.serve, shadow: r.shadow ? { name, alias: r.shadow } : null };
  };
  const route = (text: string): Route =>
    text.includes('@') || text.includes('/') ? { selector: parseSelector(text), variant: 'named', shadow: null } : routeByName(parseSelector(text).name);
  app.get('/v2/models/:name/ready', async (req) => ready(byName(nameOf(req.params))));
  app.get('/v2/models/:name/versions/:version/ready', async (req) => ready({ name: nameOf(req.params), version: versionOf(req.params) }));

  const infer = async (r: Route, body: unknown) => {
    const parsed = InferenceRequestSchema.safeParse(body);
    if (!parsed.success) throw new ValidationError(`not an inference request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
    const { values, range } = requestImages(parsed.data);
    const images = values.map((v) => digitToBytes({ kind: 'array28', values: v, range }));
    const { loaded, probabilities, variant } = await predictRouted(r, images);
    const ids = images.map(() => randomUUID());
    images.forEach((img, i) => record(ids[i] as string, loaded, variant, img, probabilities[i] as number[]));
    shadow(r, images, probabilities, ids);
    return { ...inferenceResponse(loaded.name, loaded.version, probabilities, parsed.data.id), parameters: { variant, prediction_ids: ids.join(',') } };
  };
  app.post('/v2/models/:name/infer', async (req) => infer(routeByName(nameOf(req.params)), req.body));
  app.post('/v2/models/:name/versions/:version/infer', async (req) =>
    infer({ selector: { name: nameOf(req.params), version: versionOf(req.params) }, variant: 'named', shadow: null }, req.body),
  );

  /** The image and model a /predict or /explain request names, whatever way it was sent. */
  const readDigitRequest = (req: { body: unknown; query: unknown }): { input: DigitInput; selector: string } => {
    let input: DigitInput;
    let selector: string;
    if (Buffer.isBuffer(req.body)) {
      input = { kind: 'image', bytes: new Uint8Array(req.body) };
      selector = typeof (req.query as { model?: unknown }).model === 'string' ? (req.query as { model: string }).model : 'mnist';
    } else {
      const parsed = PredictJsonSchema.safeParse(req.body ?? {});
      if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      const b = parsed.data;
      if (!!b.image === !!b.pixels) throw new ValidationError('send either "image" (base64 PNG/JPEG) or "pixels" (28×28 numbers)');
      input = b.image
        ? { kind: 'image', bytes: new Uint8Array(Buffer.from(b.image.replace(/^data:image\/\w+;base64,/, ''), 'base64')) }
        : { kind: 'array28', values: (b.pixels as (number | number[])[]).flat(), range: b.range };
      selector = b.model;
    }
    return { input, selector };
  };

  app.post('/predict', async (req) => {
    const { input, selector } = readDigitRequest(req);
    const seen = digitToBytes(input);
    const r = route(selector);
    const { loaded, probabilities, seconds, variant } = await predictRouted(r, [seen]);
    const p = probabilities[0] as number[];
    const predictionId = randomUUID();
    record(predictionId, loaded, variant, seen, p);
    shadow(r, [seen], probabilities, [predictionId]);
    return {
      predictionId,
      model: loaded.name,
      version: loaded.version,
      variant,
      class: argmax(p),
      probabilities: p,
      input28: Array.from(seen),
      latencyMs: seconds * 1000,
    };
  });

  app.post('/explain', async (req) => {
    const { input, selector } = readDigitRequest(req);
    const seen = digitToBytes(input);
    const { loaded, probabilities } = await predictRouted(route(selector), [seen]);
    const cls = argmax(probabilities[0] as number[]);
    const map = saliencyMap(loaded.model, seen, cls);
    const png = new PNG({ width: 28, height: 28 });
    map.forEach((v, i) => png.data.set([Math.round(v * 255), 0, Math.round((1 - v) * 64), Math.round(v * 255)], i * 4));
    return {
      model: loaded.name,
      version: loaded.version,
      class: cls,
      saliency: Array.from({ length: 28 }, (_, r) => Array.from(map.subarray(r * 28, r * 28 + 28))),
      png: PNG.sync.write(png).toString('base64'),
    };
  });

  app.get('/models', async () => deps.models.listModels());
  return app;
}
