import { Counter, Gauge, type Registry } from 'prom-client';

/** What a relay reports, labelled by schema (the service's outbox). */
export interface RelayMetrics {
  pending: Gauge<'schema'>;
  oldestPendingSeconds: Gauge<'schema'>;
  published: Counter<'schema' | 'type'>;
  publishErrors: Counter<'schema'>;
  parked: Counter<'schema'>;
}

/**
 * The relay's metrics on the service's registry. A second relay on the same registry (two schemas
 * in one process, or a test running two relays) shares them instead of failing to register.
 */
export function relayMetrics(registry: Registry): RelayMetrics {
  const once = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make();
  const registers = [registry];
  return {
    pending: once('mlpipe_outbox_pending_events', () => new Gauge({ name: 'mlpipe_outbox_pending_events', help: 'Outbox events committed but not yet published', labelNames: ['schema'], registers })),
    oldestPendingSeconds: once(
      'mlpipe_outbox_oldest_pending_seconds',
      () => new Gauge({ name: 'mlpipe_outbox_oldest_pending_seconds', help: 'Age of the oldest unpublished outbox event (0 when none waits)', labelNames: ['schema'], registers }),
    ),
    published: once('mlpipe_outbox_published_total', () => new Counter({ name: 'mlpipe_outbox_published_total', help: 'Outbox events published to JetStream', labelNames: ['schema', 'type'], registers })),
    publishErrors: once(
      'mlpipe_outbox_publish_errors_total',
      () => new Counter({ name: 'mlpipe_outbox_publish_errors_total', help: 'Failed relay rounds (NATS or PostgreSQL unavailable); the rows wait and are retried', labelNames: ['schema'], registers }),
    ),
    parked: once('mlpipe_outbox_parked_total', () => new Counter({ name: 'mlpipe_outbox_parked_total', help: 'Outbox events set aside because the catalogue refuses them', labelNames: ['schema'], registers })),
  };
}
