import { Registry, collectDefaultMetrics } from 'prom-client';

/** A fresh Prometheus registry per service instance (never the global one, so tests can run several). */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'mlpipe_' });
  return registry;
}
