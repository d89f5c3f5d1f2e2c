import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { ValidationError, type Logger } from '@mlpipe/common';
import { httpErrorHandler, registerOpsRoutes } from '@mlpipe/runtime';
import { remoteResolver, type AnonymousRole, type CredentialResolver } from '@mlpipe/auth';
import type { ObjectStore } from '@mlpipe/storage';
import type { Registry } from 'prom-client';
import type { Bus } from '@mlpipe/bus';
import { proxyPathProblem } from './core/proxyPath';
import { registerSession } from './session';
import { DEFAULT_UI_LIMITS, registerRateLimits, type UiLimits } from './limits';
import { buildAssets, serveAssets } from './assets';
import { PAGES } from './pages';
import { createRouteContext, type RegisterRoutes } from './routes/context';
import { registerPredictRoutes } from './routes/predict';
import { registerRegistryRoutes } from './routes/registry';
import { registerJobRoutes } from './routes/jobs';
import { registerSweepRoutes } from './routes/sweeps';
import { registerDataRoutes } from './routes/data';

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

/** One routes file per area of the UI (routes/<area>.ts); each names the role of every route it adds. */
const ROUTES: readonly RegisterRoutes[] = [registerPredictRoutes, registerRegistryRoutes, registerJobRoutes, registerSweepRoutes, registerDataRoutes];

/**
 * The web UI: the pages (bundled by esbuild at start-up, see assets.ts; the list is pages.ts),
 * sign-in with a session cookie, and a small API that forwards to the gateway, registry and
 * orchestrator with the caller's own token. Every /api route names the role it needs (reads:
 * viewer; jobs, feedback: operator; alias moves: admin); every POST needs the CSRF token.
 */
export async function buildUi(deps: UiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 3 * 1024 * 1024,
    // A URL the router cannot even decode (`%zz`) gets the same error shape as every other refusal.
    frameworkErrors: (err, _req, reply) => void (reply as FastifyReply).code(400).send({ error: `${err.message}: not a path the UI forwards`, code: 'invalid' }),
  });
  const limits = { ...DEFAULT_UI_LIMITS, ...deps.limits };
  const assets = await buildAssets(WEB, PAGES);
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
  serveAssets(app, assets);
  const ctx = createRouteContext(deps, session, limits);
  app.get('/api/config', ctx.roles.viewer, async () => ({ registryUrl: deps.registryUrl, gatewayUrl: deps.gatewayUrl }));
  for (const register of ROUTES) await register(app, ctx);
  return app;
}
