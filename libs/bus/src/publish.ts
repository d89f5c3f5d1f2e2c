import { randomUUID } from 'node:crypto';
import { EVENTS, type Envelope, type EventData, type EventType } from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';
import { SpanKind } from '@opentelemetry/api';
import { z } from 'zod';
import type { Bus } from './connection';
import { subjectOf } from './naming';
import { NatsRefusal, permissionRefusalOf } from './refusals';
import { MessagingAttr, messagingAttributes, traceHeaders, withSendSpan } from './tracing';

export interface PublishOptions {
  /** Who publishes (service name, or service/replica). */
  source: string;
  /**
   * The event id, also the JetStream message id: publishing twice with the same id inside the
   * duplicate window stores one message. Give a deterministic id wherever a retry may re-publish.
   */
  eventId?: string;
  /**
   * Keep trying for this long when the server does not answer (an outage, a restart): the same
   * event id makes a retry that did reach the stream a duplicate, not a second event. Without it,
   * one failure throws.
   */
  retryForMs?: number;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
  envelope: Envelope;
}

export function buildEnvelope<T extends EventType>(type: T, data: EventData<T>, opts: PublishOptions): Envelope<T> {
  const parsed = EVENTS[type].schema.safeParse(data);
  if (!parsed.success) {
    throw new ValidationError(`refusing to publish an invalid ${type}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  return {
    type,
    schemaVersion: EVENTS[type].version,
    eventId: opts.eventId ?? randomUUID(),
    occurredAt: new Date().toISOString(),
    source: opts.source,
    data: parsed.data as EventData<T>,
  };
}

/**
 * Validates against the catalogue, wraps in the envelope and publishes to JetStream with the message
 * id set, inside a `<type> publish` span whose context travels in the message headers.
 */
export async function publishEvent<T extends EventType>(
  bus: Bus,
  type: T,
  data: EventData<T>,
  opts: PublishOptions,
): Promise<PublishResult> {
  const envelope = buildEnvelope(type, data, opts);
  const giveUpAt = Date.now() + (opts.retryForMs ?? 0);
  for (let tries = 1; ; tries++) {
    try {
      return await publishEnvelope(bus, envelope);
    } catch (err) {
      // Refused by the server: no retry can grant the right.
      const refusal = permissionRefusalOf(err);
      if (refusal) throw new NatsRefusal(bus.user, `publishing ${type}`, refusal);
      if (Date.now() >= giveUpAt) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** tries)));
    }
  }
}

async function publishEnvelope<T extends EventType>(bus: Bus, envelope: Envelope<T>): Promise<PublishResult> {
  const type = envelope.type;
  const subject = subjectOf(bus.namespace, type);
  const attributes = messagingAttributes(subject, 'send', {
    [MessagingAttr.operationName]: 'publish',
    [MessagingAttr.messageId]: envelope.eventId,
  });
  return withSendSpan(`${type} publish`, SpanKind.PRODUCER, attributes, async () => {
    const headers = traceHeaders();
    const ack = await bus.js.publish(subject, JSON.stringify(envelope), {
      msgID: envelope.eventId,
      ...(headers ? { headers } : {}),
    });
    return { seq: ack.seq, duplicate: ack.duplicate, envelope };
  });
}
