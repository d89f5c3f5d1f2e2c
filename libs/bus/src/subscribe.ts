import type { Subscription } from '@nats-io/nats-core';
import { parseEnvelope, type Envelope, type EventType } from '@mlpipe/contracts';
import { describeError, type Logger } from '@mlpipe/common';
import { SpanKind } from '@opentelemetry/api';
import type { Bus } from './connection';
import { subjectOf } from './naming';
import { MessagingAttr, markFailed, messagingAttributes, withReceiveSpan } from './tracing';

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
      let parsed: ReturnType<typeof parseEnvelope<T>>;
      try {
        parsed = parseEnvelope(type, JSON.parse(msg.string()));
      } catch (e) {
        return logger.warn({ type, err: describeError(e) }, 'ignoring unparseable live event');
      }
      if (!parsed.ok) return logger.warn({ type, reason: parsed.reason }, 'ignoring invalid live event');
      const { envelope } = parsed;
      const attributes = messagingAttributes(msg.subject, 'process', { [MessagingAttr.messageId]: envelope.eventId });
      withReceiveSpan(`${type} process`, SpanKind.CONSUMER, msg.headers, attributes, (span) => {
        try {
          handler(envelope);
        } catch (e) {
          markFailed(span, e);
          logger.error({ type, err: describeError(e) }, 'live event handler failed');
        } finally {
          span.end();
        }
      });
    },
  });
}
