import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { registerOpsRoutes, type Logger } from '@mlpipe/common';

export interface UiDeps {
  gatewayUrl: string;
  registryUrl: string;
  metrics: Registry;
  logger: Logger;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The web UI's server. This version serves a status page with links to the registry's API;
 * the drawing canvas and experiment pages arrive with the inference issue.
 */
export function buildUi(deps: UiDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger });
  registerOpsRoutes(app, { metrics: deps.metrics, isReady: () => true });
  app.get('/', async (_req, reply) => {
    const registry = escapeHtml(deps.registryUrl);
    return reply.type('text/html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlpipe</title></head>
<body>
<h1>mlpipe</h1>
<ul>
<li><a href="${registry}/models">registered models</a> (registry API)</li>
<li><a href="${registry}/experiments">experiments</a></li>
<li><a href="${registry}/openapi.json">registry OpenAPI</a></li>
<li>gateway: ${escapeHtml(deps.gatewayUrl)}</li>
</ul>
</body></html>`);
  });
  return app;
}
