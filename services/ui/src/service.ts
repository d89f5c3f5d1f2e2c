import type { UiConfig } from '@mlpipe/config';
import type { RunningService, ServiceContext } from '@mlpipe/runtime';
import { buildUi } from './app';

/** The UI as the runtime starts it: config → the app's deps (tests call buildUi directly). */
export async function serveUi(ctx: ServiceContext<UiConfig, 'bus' | 'store' | 'http'>): Promise<RunningService> {
  const { config } = ctx;
  const app = await buildUi({
    bus: ctx.bus,
    gatewayUrl: config.GATEWAY_URL.replace(/\/$/, ''),
    registryUrl: config.REGISTRY_URL.replace(/\/$/, ''),
    store: ctx.store,
    dataPrefix: config.DATA_PREFIX,
    metrics: ctx.metrics,
    logger: ctx.logger,
    isReady: ctx.isReady,
    auth: { anonymousRole: config.AUTH_ANONYMOUS_ROLE, cacheMs: config.AUTH_CACHE_MS },
    session: { secret: config.UI_SESSION_SECRET, maxAgeS: config.UI_SESSION_MAX_AGE_S, secure: config.UI_COOKIE_SECURE },
    limits: {
      sseMaxConnections: config.UI_SSE_MAX_CONNECTIONS,
      feedbackRateMax: config.UI_FEEDBACK_RATE_MAX,
      jobsRateMax: config.UI_JOBS_RATE_MAX,
      rateWindowMs: config.UI_RATE_WINDOW_MS,
    },
  });
  return { app };
}
