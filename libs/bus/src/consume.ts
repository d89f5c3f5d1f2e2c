import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { EVENTS, parseEnvelope, type DeadLetter, type Envelope, type EventType } from '@mlpipe/contracts';
import { ConflictError, NotFoundError, ValidationError, describeError, type Logger } from '@mlpipe/common';
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Bus } from './connection';
import { deadLetterSubject, streamNameOf, subjectOf, typeOfSubject } from './naming';
import { MessagingAttr, endAfter, markFailed, messagingAttributes, traceHeaders, withReceiveSpan } from './tracing';

export interface HandlerContext {
  /** 1 on first delivery. */
  deliveryCount: number;
  /** Tells JetStream the handler is still busy (resets the ack timer) for long work. */
  working(): void;
}

export type EventHandler<T extends EventType> = (event: Envelope<T>, ctx: HandlerContext) => Promise<void>;
export type HandlerMap = { [T in EventType]?: EventHandler<T> };

export interface ConsumeOptions {
  /** Durable consumer name; replicas sharing it share the work (each message goes to one). */
  durable: string;
  handlers: HandlerMap;
  logger: Logger;
  ackWaitMs?: number;
  maxDeliver?: number;
  /** Delay before redelivery after a transient failure, by delivery count. */
  backoffMs?: (deliveryCount: number) => number;
  /** Messages handled at once by this process. */
  maxInFlight?: number;
  /** Called for every message sent to the dead-letter subject. */
  onDeadLetter?: (type: string, reason: string) => void;
  /** Where to export this consumer's lag (messages not yet delivered), redeliveries and dead letters. */
  metrics?: Registry;
}

const LAG_POLL_MS = 15_000;

interface ConsumerMetrics {
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
function consumerMetrics(registry: Registry): ConsumerMetrics {
  const registers = [registry];
  const labelNames = ['durable'] as const;
  return {
    pending: shared(registry, 'mlpipe_consumer_pending_messages', () => new Gauge({ name: 'mlpipe_consumer_pending_messages', help: 'Messages of the stream not yet delivered to this durable consumer (lag)', labelNames, registers })),
    redeliveries: shared(registry, 'mlpipe_consumer_redeliveries_total', () => new Counter({ name: 'mlpipe_consumer_redeliveries_total', help: 'Messages delivered again after a failure or an expired ack wait', labelNames, registers })),
    deadLetters: shared(registry, 'mlpipe_dead_letters_total', () => new Counter({ name: 'mlpipe_dead_letters_total', help: 'Messages sent to the dead-letter subject, by event type and durable consumer', labelNames: ['type', 'durable'], registers })),
  };
}

export interface RunningConsumer {
  /** Stops fetching, waits for in-flight handlers to finish. */
  stop(): Promise<void>;
}

export const defaultBackoff = (deliveryCount: number): number => Math.min(30_000, 500 * 2 ** (deliveryCount - 1));

/** Permanent failures: retrying the same message cannot succeed, so it goes to the dead-letter subject. */
export function isPermanent(err: unknown): boolean {
  return err instanceof ValidationError || err instanceof NotFoundError || err instanceof ConflictError;
}

/**
 * Durable pull consumer over one stream: validates each message against the catalogue, acks on
 * success, naks with backoff on transient failure, and dead-letters poison messages (unparseable,
 * invalid, permanently failing, or out of deliveries) with the reason: never a crash loop.
 */
export async function consumeEvents(bus: Bus, opts: ConsumeOptions): Promise<RunningConsumer> {
  const types = Object.keys(opts.handlers) as EventType[];
  const first = types[0];
  if (!first) throw new Error('consumeEvents needs at least one handler');
  const streamKey = EVENTS[first].stream;
  if (types.some((t) => EVENTS[t].stream !== streamKey)) throw new Error('one consumer reads one stream');
  const stream = streamNameOf(bus.namespace, streamKey);
  // nats-server 2.9 takes one filter subject: the exact subject for one type, else the stream's.
  const filter = types.length === 1 ? subjectOf(bus.namespace, first) : subjectOf(bus.namespace, `${first.split('.')[0]}.>`);
  const maxDeliver = opts.maxDeliver ?? 5;
  await bus.jsm.consumers.add(stream, {
    durable_name: opts.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filter,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_deliver: maxDeliver + 1, // one spare delivery so the last failure can still be dead-lettered
  });
  const consumer = await bus.js.consumers.get(stream, opts.durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: opts.maxInFlight ?? 1 });
  const backoff = opts.backoffMs ?? defaultBackoff;
  const log = opts.logger.child({ consumer: opts.durable });
  const observed = opts.metrics ? consumerMetrics(opts.metrics) : undefined;

  const deadLetter = async (msg: JsMsg, reason: string): Promise<void> => {
    const type = typeOfSubject(bus.namespace, msg.subject);
    const text = new TextDecoder('utf-8', { fatal: false }).decode(msg.data);
    const isText = !text.includes('\uFFFD');
    const record: DeadLetter = {
      originalSubject: msg.subject,
      consumer: opts.durable,
      reason,
      deliveries: msg.info.deliveryCount,
      payload: isText ? text : Buffer.from(msg.data).toString('base64'),
      payloadEncoding: isText ? 'utf8' : 'base64',
      occurredAt: new Date().toISOString(),
    };
    const headers = traceHeaders(); // the dead letter joins the trace of the message that failed
    await bus.js.publish(deadLetterSubject(bus.namespace, type), JSON.stringify(record), {
      msgID: `dlq:${opts.durable}:${msg.info.stream}:${msg.seq}`,
      ...(headers ? { headers } : {}),
    });
    msg.term(reason);
    observed?.deadLetters.inc({ type, durable: opts.durable });
    opts.onDeadLetter?.(type, reason);
    log.warn({ subject: msg.subject, seq: msg.seq, reason }, 'message dead-lettered');
  };

  const settle = async (msg: JsMsg, type: EventType, handler: EventHandler<EventType>, span: Span): Promise<void> => {
    let parsed: ReturnType<typeof parseEnvelope>;
    try {
      parsed = parseEnvelope(type, JSON.parse(new TextDecoder().decode(msg.data)));
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'not JSON' });
      return deadLetter(msg, `not JSON: ${describeError(err)}`);
    }
    if (!parsed.ok) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: `invalid ${type}` });
      return deadLetter(msg, `invalid ${type}: ${parsed.reason}`);
    }
    span.setAttribute(MessagingAttr.messageId, parsed.envelope.eventId);
    const deliveryCount = msg.info.deliveryCount;
    try {
      await handler(parsed.envelope, { deliveryCount, working: () => msg.working() });
      msg.ack();
    } catch (err) {
      markFailed(span, err);
      const reason = describeError(err);
      if (isPermanent(err)) return deadLetter(msg, `${type} failed permanently: ${reason}`);
      if (deliveryCount >= maxDeliver) return deadLetter(msg, `${type} still failing after ${deliveryCount} deliveries: ${reason}`);
      log.warn({ subject: msg.subject, deliveryCount, err: reason }, 'handler failed, will retry');
      msg.nak(backoff(deliveryCount));
    }
  };

  const lagTimer = observed
    ? setInterval(() => {
        consumer.info().then(
          (info) => observed.pending.set({ durable: opts.durable }, info.num_pending),
          () => undefined,
        );
      }, LAG_POLL_MS)
    : undefined;
  lagTimer?.unref();

  /** Each handled message gets a `<type> process` span, a child of its publisher's span. */
  const handleOne = async (msg: JsMsg): Promise<void> => {
    if (msg.info.deliveryCount > 1) observed?.redeliveries.inc({ durable: opts.durable });
    const type = typeOfSubject(bus.namespace, msg.subject) as EventType;
    const handler = opts.handlers[type] as EventHandler<EventType> | undefined;
    if (!handler) {
      msg.ack(); // another service's event on a shared stream filter
      return;
    }
    const attributes = messagingAttributes(msg.subject, 'process', { [MessagingAttr.consumerGroup]: opts.durable });
    return withReceiveSpan(`${type} process`, SpanKind.CONSUMER, msg.headers, attributes, (span) =>
      endAfter(span, () => settle(msg, type, handler, span)),
    );
  };

  const loop = (async () => {
    for await (const msg of messages) {
      try {
        await handleOne(msg);
      } catch (err) {
        // Publishing the dead letter itself failed: leave the message for redelivery.
        log.error({ err: describeError(err), subject: msg.subject }, 'could not settle message');
        msg.nak(backoff(msg.info.deliveryCount));
      }
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        clearInterval(lagTimer);
        await messages.close();
        await loop;
      })();
      return stopping;
    },
  };
}
