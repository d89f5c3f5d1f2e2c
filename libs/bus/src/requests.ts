import type { Subscription } from '@nats-io/nats-core';
import {
  REQUESTS,
  ReplyEnvelopeSchema,
  type ParsedRequestOf,
  type ReplyOf,
  type RequestOf,
  type RequestSubject,
} from '@mlpipe/contracts';
import {
  ConflictError,
  MlpipeError,
  NotFoundError,
  QuotaExceededError,
  TransientError,
  ValidationError,
  describeError,
  type Logger,
} from '@mlpipe/common';
import { SpanKind } from '@opentelemetry/api';
import { z } from 'zod';
import type { Bus } from './connection';
import { subjectOf } from './naming';
import { NatsRefusal, permissionRefusalOf } from './refusals';
import { endAfter, markFailed, messagingAttributes, traceHeaders, withReceiveSpan, withSendSpan } from './tracing';

export type RequestHandler<S extends RequestSubject> = (req: ParsedRequestOf<S>) => Promise<ReplyOf<S>>;

/**
 * Serves a request/reply endpoint in a queue group, so several replicas share the load. Each request
 * is handled in a `<subject> process` SERVER span, a child of the caller's `<subject> request` span.
 */
export function serveRequests<S extends RequestSubject>(
  bus: Bus,
  subject: S,
  handler: RequestHandler<S>,
  logger: Logger,
): Subscription {
  const spec = REQUESTS[subject];
  return bus.nc.subscribe(subjectOf(bus.namespace, subject), {
    queue: subject,
    callback: (err, msg) => {
      if (err) return logger.error({ err: describeError(err), subject }, 'request subscription failed');
      const attributes = messagingAttributes(msg.subject, 'process');
      void withReceiveSpan(`${subject} process`, SpanKind.SERVER, msg.headers, attributes, (span) =>
        endAfter(span, async () => {
          let reply: unknown;
          try {
            const parsed = spec.request.safeParse(msg.data.length ? JSON.parse(msg.string()) : {});
            if (!parsed.success) throw new ValidationError(z.prettifyError(parsed.error).replace(/\n/g, '; '));
            reply = { ok: true, data: await handler(parsed.data as ParsedRequestOf<S>) };
          } catch (e) {
            markFailed(span, e);
            const code = e instanceof MlpipeError ? e.code : e instanceof SyntaxError ? 'invalid' : 'internal';
            if (code === 'internal') logger.error({ err: e, subject }, 'request handler crashed');
            reply = { ok: false, error: { code, message: code === 'internal' ? 'internal error' : describeError(e) } };
          }
          msg.respond(JSON.stringify(reply));
        }),
      );
    },
  });
}

/**
 * Sends a request and returns the validated reply, or throws the error class the server named; in a
 * `<subject> request` CLIENT span whose context travels in the request headers.
 */
export function request<S extends RequestSubject>(
  bus: Bus,
  subject: S,
  body: RequestOf<S>,
  timeoutMs = 10_000,
): Promise<ReplyOf<S>> {
  const natsSubject = subjectOf(bus.namespace, subject);
  const attributes = messagingAttributes(natsSubject, 'send');
  return withSendSpan(`${subject} request`, SpanKind.CLIENT, attributes, () => sendRequest(bus, natsSubject, subject, body, timeoutMs));
}

async function sendRequest<S extends RequestSubject>(
  bus: Bus,
  natsSubject: string,
  subject: S,
  body: RequestOf<S>,
  timeoutMs: number,
): Promise<ReplyOf<S>> {
  let text: string;
  try {
    const headers = traceHeaders();
    const msg = await bus.nc.request(natsSubject, JSON.stringify(body), { timeout: timeoutMs, ...(headers ? { headers } : {}) });
    text = msg.string();
  } catch (cause) {
    // A refusal is no outage: waiting cannot help, the user lacks the right (libs/bus/src/accounts.ts).
    const refusal = permissionRefusalOf(cause);
    if (refusal) throw new NatsRefusal(bus.user, `a request to ${subject}`, refusal);
    throw new TransientError(`no answer to ${subject} within ${timeoutMs} ms: is its service running?`, { cause });
  }
  const envelope = ReplyEnvelopeSchema.parse(JSON.parse(text));
  if (!envelope.ok) {
    const { code, message } = envelope.error;
    if (code === 'invalid') throw new ValidationError(message);
    if (code === 'not_found') throw new NotFoundError(message);
    if (code === 'conflict') throw new ConflictError(message);
    if (code === 'quota_exceeded') throw new QuotaExceededError(message);
    throw new MlpipeError(code, message);
  }
  return REQUESTS[subject].reply.parse(envelope.data) as ReplyOf<S>;
}
