import type { Subscription } from '@nats-io/nats-core';
import { parseEnvelope, type Envelope, type EventType } from '@mlpipe/contracts';
import { describeError, type Logger } from '@mlpipe/common';
import type { Bus } from './connection';
import { subjectOf } from './naming';

/**
 * A live (non-durable) view of one event type: every process gets every message published
 * from now on. For signals like "cancel job X" that only matter to whoever is running it.
 */
export function subscribeEvents<T extends EventType>(
  bus: Bus,
  type: T,
  handler: (event: Envelope<T>) => void,
  logger: Logger,
): Subscription {
  return bus.nc.subscribe(subjectOf(bus.namespace, type), {
    callback: (err, msg) => {
      if (err) return logger.error({ err: describeError(err), type }, 'subscription failed');
      try {
        const parsed = parseEnvelope(type, JSON.parse(msg.string()));
        if (parsed.ok) handler(parsed.envelope);
        else logger.warn({ type, reason: parsed.reason }, 'ignoring invalid live event');
      } catch (e) {
        logger.warn({ type, err: describeError(e) }, 'ignoring unparseable live event');
      }
    },
  });
}
