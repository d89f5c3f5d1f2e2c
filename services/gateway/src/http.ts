import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@mlpipe/common';
import { httpErrorHandler, registerOpsRoutes } from '@mlpipe/runtime';
import type { Registry } from 'prom-client';
import type { AuthGuard } from '@mlpipe/auth';
import type { Routing } from './core/routing';
import { requireTokenForInference } from './inferenceAuth';
import type { DigitRoutesOptions } from './routes/digits';
import type { ModelCache } from './adapters/modelCache';
import type { Predictor } from './app/predictor';
import { oipRoutes } from './routes/oip';
import { digitRoutes } from './routes/digits';
import { modelRoutes } from './routes/models';

export interface GatewayHttpDeps {
  models: ModelCache;
  routing: Routing;
  predictor: Predictor;
  metrics: Registry;
  logger: Logger;
  isReady: () => boolean;
  bodyLimitBytes?: number;
  imageLimits?: DigitRoutesOptions['imageLimits'];
  /** GATEWAY_AUTH=token: inference needs a valid token; unset, it is open. */
  guard?: AuthGuard | undefined;
}

/** The limits' defaults, as in GatewayConfigSchema. */
export const DEFAULT_IMAGE_LIMITS: DigitRoutesOptions['imageLimits'] = { maxBytes: 1024 * 1024, maxPixels: 4_000_000, maxDecodeMB: 128 };

/**
 * The model replica's HTTP face: the Open Inference Protocol v2, `POST /predict` and `/explain`,
 * `GET /models`, and the ops routes, one plugin each. Errors are the shared mapping's
 * `{ "error": "…" }`; bad input is a 4xx, never a 5xx.
 */
export function buildGateway(deps: GatewayHttpDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024 });
  void app.register(httpErrorHandler);
  registerOpsRoutes(app, deps);
  requireTokenForInference(app, deps.guard);
  void app.register(oipRoutes, deps);
  void app.register(digitRoutes, { ...deps, imageLimits: deps.imageLimits ?? DEFAULT_IMAGE_LIMITS });
  void app.register(modelRoutes, deps);
  return app;
}
