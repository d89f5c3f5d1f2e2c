/**
 * Which gateway routes GATEWAY_AUTH=token protects: inference and model metadata (`/v2/...`,
 * `/predict`, `/explain`, `/models`). Liveness and readiness (`/v2/health/*`, `/healthz`, `/readyz`)
 * and `/metrics` stay open: probes and scrapers carry no token, and they reveal no model or input.
 */
export function isInferencePath(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  if (path.startsWith('/v2/health/')) return false;
  return path === '/v2' || path.startsWith('/v2/') || ['/predict', '/explain', '/models'].includes(path) || path.startsWith('/models/');
}
