import { Counter, Gauge, type Registry } from 'prom-client';

export interface ConsumerMetrics {
  pending: Gauge;
  redeliveries: Counter;
  deadLetters: Counter;
}

/** One metric of a registry, created once however many consumers share it. */
function shared<M extends Gauge | Counter>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

/**
 * The consumer metrics of a registry. Dead letters are counted here, for every consumer, so no
 * service can forget to (the MlpipeDeadLetters alert in deploy/prometheus/rules reads them).
 */
export function consumerMetrics(registry: Registry): ConsumerMetrics {
  const registers = [registry];
  const labelNames = ['durable'] as const;
  return {
    pending: shared(registry, 'mlpipe_consumer_pending_messages', () => new Gauge({ name: 'mlpipe_consumer_pending_messages', help: 'Messages of the stream not yet delivered to this durable consumer (lag)', labelNames, registers })),
    redeliveries: shared(registry, 'mlpipe_consumer_redeliveries_total', () => new Counter({ name: 'mlpipe_consumer_redeliveries_total', help: 'Messages delivered again after a failure or an expired ack wait', labelNames, registers })),
    deadLetters: shared(registry, 'mlpipe_dead_letters_total', () => new Counter({ name: 'mlpipe_dead_letters_total', help: 'Messages sent to the dead-letter subject, by event type and durable consumer', labelNames: ['type', 'durable'], registers })),
  };
}
