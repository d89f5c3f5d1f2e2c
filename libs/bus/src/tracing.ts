import {
  ROOT_CONTEXT,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Span,
  type SpanKind,
  type TextMapGetter,
} from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { describeError } from '@mlpipe/common';

/**
 * Trace context crosses NATS in message headers (W3C `traceparent`/`tracestate`), so one trace
 * follows an event from its publisher through every consumer that reacts to it. Without a
 * registered SDK the OpenTelemetry API is a no-op: no headers are added and spans cost nothing.
 */

/** Messaging semantic-convention attribute names (incubating in @opentelemetry/semantic-conventions). */
export const MessagingAttr = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  consumerGroup: 'messaging.consumer.group.name',
} as const;

const tracer = () => trace.getTracer('@mlpipe/bus');

const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (h) => (h ? h.keys() : []),
  get: (h, key) => (h?.has(key) ? h.get(key) : undefined),
};

/** The active context as NATS headers, or undefined when the propagator wrote nothing (no SDK). */
export function traceHeaders(): MsgHdrs | undefined {
  let h: MsgHdrs | undefined;
  propagation.inject(context.active(), undefined, {
    set: (_carrier, key, value) => (h ??= natsHeaders()).set(key, value),
  });
  return h;
}

export function messagingAttributes(subject: string, operation: 'send' | 'process', extra: Attributes = {}): Attributes {
  return {
    [MessagingAttr.system]: 'nats',
    [MessagingAttr.destination]: subject,
    [MessagingAttr.operationType]: operation,
    ...extra,
  };
}

/** Marks the span failed with the exception recorded. */
export function markFailed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
}

/**
 * Runs `fn` in a PRODUCER/CLIENT span that is the active context, so `traceHeaders()` inside it
 * names this span as the parent of whatever receives the message.
 */
export function withSendSpan<T>(
  name: string,
  kind: SpanKind.PRODUCER | SpanKind.CLIENT,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      markFailed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Starts a CONSUMER/SERVER span whose parent is the context carried by the message headers (a new
 * trace when there is none, never the receiving loop's context) and runs `fn` inside it.
 * `fn` ends the span; use `endAfter` for the usual try/finally.
 */
export function withReceiveSpan<T>(
  name: string,
  kind: SpanKind.CONSUMER | SpanKind.SERVER,
  msgHeaders: MsgHdrs | undefined,
  attributes: Attributes,
  fn: (span: Span) => T,
): T {
  const parent = propagation.extract(ROOT_CONTEXT, msgHeaders, headerGetter);
  return tracer().startActiveSpan(name, { kind, attributes }, parent, fn);
}

/** Awaits `work`, recording a throw on the span, and ends the span either way. */
export async function endAfter<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    markFailed(span, err);
    throw err;
  } finally {
    span.end();
  }
}
