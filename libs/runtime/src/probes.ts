/**
 * Probe and scrape paths: left out of request metrics and traces, since one sample each every few
 * seconds would drown the traffic people look for. The Open Inference Protocol's health routes too.
 */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']);

/** True for a probe path, with or without a query string. */
export function isProbePath(url: string | undefined): boolean {
  return PROBE_PATHS.has((url ?? '').split('?')[0] ?? '');
}
