import type { JsMsg } from '@nats-io/jetstream';
import { parseEnvelope, type Envelope, type EventType } from '@mlpipe/contracts';
import { describeError, type Logger } from '@mlpipe/common';
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Bus } from './connection';
import { publishDeadLetter } from './deadLetters';
import { NO_TRANSIENT_HISTORY, attemptOf, classifyFailure, decideFailure, formatMs, unsettledTooOften, type RetryPolicy } from './failures';
import { ledgerKey, type FailureLedger } from './ledger';
import type { ConsumerMetrics } from './metrics';
import { typeOfSubject } from './naming';
import { MessagingAttr, endAfter, markFailed, messagingAttributes, withReceiveSpan } from './tracing';

export interface HandlerContext {
  /** Every delivery JetStream made of this message, this one included (1 on the first). */
  deliveryCount: number;
  /**
   * Deliveries that count against maxDeliver, this one included: all but those that ended in a
   * transient failure (a dependency outage). Use it as the attempt number.
   */
  attempt: number;
  /** Tells JetStream the handler is still busy (resets the ack timer) for long work. */
  working(): void;
}

export type EventHandler<T extends EventType> = (event: Envelope<T>, ctx: HandlerContext) => Promise<void>;
export type HandlerMap = { [T in EventType]?: EventHandler<T> };

/** settled: acked or dead-lettered, done with. retry: given back for a later delivery. */
export type Outcome = 'settled' | 'retry';

/**
 * Thrown by a handler that finds its work taken over by another delivery of the same message (a
 * coordinator fenced by a newer one). The delivery is left alone, neither acked nor nak'd: an ack
 * would settle the message under its current holder, and a nak would hand it out a third time.
 * Should nobody hold it after all, the ack wait hands it out again.
 */
export class SupersededDelivery extends Error {}

export interface SettlerDeps {
  bus: Bus;
  durable: string;
  handlers: HandlerMap;
  policy: RetryPolicy;
  ledger: FailureLedger;
  log: Logger;
  observed: ConsumerMetrics | undefined;
  onDeadLetter: ((type: string, reason: string, event?: Envelope) => void) | undefined;
}

/**
 * Handles one message to its end: ack on success; nak with backoff on a transient failure (kept
 * in the ledger, not counted) or an unknown one (counted); dead letter for poison (unparseable,
 * invalid, permanently failing, out of attempts, or out of transient budget). Each handled message
 * gets a `<type> process` span, a child of its publisher's span.
 */
export function messageSettler(deps: SettlerDeps): (msg: JsMsg) => Promise<Outcome> {
  const { bus, durable, policy, ledger, log, observed } = deps;

  const deadLetter = async (msg: JsMsg, reason: string, event?: Envelope): Promise<Outcome> => {
    const type = typeOfSubject(bus.namespace, msg.subject);
    await publishDeadLetter(bus, msg, durable, reason);
    msg.term(reason);
    observed?.deadLetters.inc({ type, durable });
    deps.onDeadLetter?.(type, reason, event);
    log.warn({ subject: msg.subject, seq: msg.seq, reason }, 'message dead-lettered');
    return 'settled';
  };

  const settle = async (msg: JsMsg, type: EventType, handler: EventHandler<EventType>, span: Span): Promise<Outcome> => {
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
    const key = ledgerKey(msg.info.stream, durable, msg.seq);
    // Only a redelivered message can have a history (the ledger is read on failures' account only).
    const history = deliveryCount > 1 ? await ledger.read(key) : NO_TRANSIENT_HISTORY;
    const attempt = attemptOf(deliveryCount, history);
    const forget = async (): Promise<Outcome> => {
      if (history.failures) await ledger.forget(key);
      return 'settled';
    };
    const crashed = unsettledTooOften(type, attempt, policy);
    if (crashed) {
      await deadLetter(msg, crashed, parsed.envelope);
      return forget();
    }
    try {
      await handler(parsed.envelope, { deliveryCount, attempt, working: () => msg.working() });
      msg.ack();
      return await forget();
    } catch (err) {
      if (err instanceof SupersededDelivery) {
        log.warn({ subject: msg.subject, seq: msg.seq, deliveryCount, err: err.message }, 'delivery superseded by another; leaving it to its current holder');
        return 'settled';
      }
      markFailed(span, err);
      const reason = describeError(err);
      const kind = classifyFailure(err);
      const decision = decideFailure({ type, kind, reason, attempt, history, policy });
      if (decision.action === 'dead-letter') {
        await deadLetter(msg, decision.reason, parsed.envelope);
        return forget();
      }
      if (kind === 'transient') await ledger.write(key, decision.history);
      const waited = kind === 'transient' ? ` (waited ${formatMs(decision.history.waitedMs)} of ${formatMs(policy.transientRetryMs)})` : '';
      log.warn({ subject: msg.subject, seq: msg.seq, deliveryCount, attempt, kind, err: reason }, `handler failed, will retry in ${formatMs(decision.delayMs)}${waited}`);
      msg.nak(decision.delayMs);
      return 'retry';
    }
  };

  return async (msg: JsMsg): Promise<Outcome> => {
    if (msg.info.deliveryCount > 1) observed?.redeliveries.inc({ durable });
    const type = typeOfSubject(bus.namespace, msg.subject) as EventType;
    const handler = deps.handlers[type] as EventHandler<EventType> | undefined;
    if (!handler) {
      msg.ack(); // another service's event on a shared stream filter
      return 'settled';
    }
    const attributes = messagingAttributes(msg.subject, 'process', { [MessagingAttr.consumerGroup]: durable });
    return withReceiveSpan(`${type} process`, SpanKind.CONSUMER, msg.headers, attributes, (span) =>
      endAfter(span, () => settle(msg, type, handler, span)),
    );
  };
}
