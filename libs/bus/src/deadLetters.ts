import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import type { JsMsg, StoredMsg } from '@nats-io/jetstream';
import { DeadLetterSchema, type DeadLetter } from '@mlpipe/contracts';
import { NotFoundError, ValidationError } from '@mlpipe/common';
import type { Bus } from './connection';
import { deadLetterSubject, streamNameOf, subjectOf, typeOfSubject } from './naming';
import { traceHeaders } from './tracing';

/**
 * The dead-letter stream: what consumers could not handle, and the tools to look at it and put a
 * message back. A dead letter is stored on `dlq.<event type>` in the namespace's DLQ stream.
 * Replaying re-publishes the original payload to its original subject and then deletes the dead
 * letter, so the stream holds only what is still dead; a replay that fails again is dead-lettered
 * again, with its new reason, under a new sequence.
 */

/** Header on a replayed message: `<DLQ stream>:<seq>` of the dead letter it came from. */
export const REPLAYED_FROM_HEADER = 'Mlpipe-Replayed-From';

export interface DeadLetterEntry {
  /** Sequence in the DLQ stream: what show and replay take. */
  seq: number;
  /** When the DLQ stream stored it. */
  storedAt: Date;
  /** The event type (from the dead letter's subject). */
  type: string;
  /** The record, or undefined when what is stored there is not one (published by hand). */
  record: DeadLetter | undefined;
  /** The stored text as is. */
  raw: string;
}

/** Publishes the record for a message a consumer gives up on (the caller then terminates it). */
export async function publishDeadLetter(bus: Bus, msg: JsMsg, consumer: string, reason: string): Promise<void> {
  const type = typeOfSubject(bus.namespace, msg.subject);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(msg.data);
  const isText = !text.includes('\uFFFD');
  const record: DeadLetter = {
    originalSubject: msg.subject,
    consumer,
    reason,
    deliveries: msg.info.deliveryCount,
    payload: isText ? text : Buffer.from(msg.data).toString('base64'),
    payloadEncoding: isText ? 'utf8' : 'base64',
    occurredAt: new Date().toISOString(),
  };
  const headers = traceHeaders(); // the dead letter joins the trace of the message that failed
  await bus.js.publish(deadLetterSubject(bus.namespace, type), JSON.stringify(record), {
    msgID: `dlq:${consumer}:${msg.info.stream}:${msg.seq}`,
    ...(headers ? { headers } : {}),
  });
}

const dlqStream = (bus: Bus) => streamNameOf(bus.namespace, 'DLQ');
const dlqPrefix = (bus: Bus) => deadLetterSubject(bus.namespace, '');

async function dlqBounds(bus: Bus): Promise<{ first: number; last: number; count: number }> {
  try {
    const { state } = await bus.jsm.streams.info(dlqStream(bus));
    return { first: state.first_seq, last: state.last_seq, count: state.messages };
  } catch (err) {
    if (err instanceof Error && /stream not found/i.test(err.message)) {
      throw new NotFoundError(`no dead-letter stream ${dlqStream(bus)}: has any mlpipe service run with BUS_NAMESPACE=${bus.namespace}?`, { cause: err });
    }
    throw err;
  }
}

function toEntry(bus: Bus, m: StoredMsg): DeadLetterEntry {
  const raw = new TextDecoder().decode(m.data);
  let record: DeadLetter | undefined;
  try {
    const parsed = DeadLetterSchema.safeParse(JSON.parse(raw));
    record = parsed.success ? parsed.data : undefined;
  } catch {
    record = undefined;
  }
  return { seq: m.seq, storedAt: m.time, type: m.subject.slice(dlqPrefix(bus).length), record, raw };
}

/**
 * Dead letters in stream order, only those of `type` when given, at most the newest `limit`. Reads
 * one message per sequence, newest first: dead letters are few, and replayed ones leave gaps.
 */
export async function listDeadLetters(bus: Bus, opts: { type?: string; limit?: number } = {}): Promise<DeadLetterEntry[]> {
  const { first, last, count } = await dlqBounds(bus);
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  const out: DeadLetterEntry[] = [];
  for (let seq = last; seq >= first && count > 0 && out.length < limit; seq--) {
    const m = await bus.jsm.streams.getMessage(dlqStream(bus), { seq });
    if (!m) continue;
    const entry = toEntry(bus, m);
    if (opts.type === undefined || entry.type === opts.type) out.push(entry);
  }
  return out.reverse();
}

async function readStored(bus: Bus, seq: number): Promise<StoredMsg> {
  const { first, last } = await dlqBounds(bus);
  const m = seq >= first && seq <= last ? await bus.jsm.streams.getMessage(dlqStream(bus), { seq }) : null;
  if (!m) throw new NotFoundError(`no dead letter ${seq} in ${dlqStream(bus)} (replayed ones are deleted; run list to see what is there)`);
  return m;
}

export async function readDeadLetter(bus: Bus, seq: number): Promise<DeadLetterEntry> {
  return toEntry(bus, await readStored(bus, seq));
}

export interface ReplayResult {
  deadLetterSeq: number;
  subject: string;
  /** Sequence of the re-published message in its stream. */
  seq: number;
  /** true when the stream already had this replay (same dead letter, within the duplicate window). */
  duplicate: boolean;
}

/**
 * Re-publishes a dead letter's payload to its original subject, then deletes the dead letter. The
 * message id is derived from the dead letter's sequence, so replaying it twice within the duplicate
 * window (a crash between publish and delete) stores one message.
 */
export async function replayDeadLetter(bus: Bus, seq: number): Promise<ReplayResult> {
  const stored = await readStored(bus, seq);
  const { record } = toEntry(bus, stored);
  if (!record) throw new ValidationError(`dead letter ${seq} is not a dead-letter record, so it has no original message to replay`);
  if (!record.originalSubject.startsWith(subjectOf(bus.namespace, '')) || record.originalSubject.startsWith(dlqPrefix(bus))) {
    throw new ValidationError(`dead letter ${seq} came from ${record.originalSubject}, outside namespace ${bus.namespace}'s event subjects: not replaying it`);
  }
  const payload = record.payloadEncoding === 'base64' ? Buffer.from(record.payload, 'base64') : new TextEncoder().encode(record.payload);
  const headers = replayHeaders(stored.header, `${dlqStream(bus)}:${seq}`);
  const ack = await bus.js.publish(record.originalSubject, payload, { msgID: `dlq-replay:${dlqStream(bus)}:${seq}`, headers });
  await bus.jsm.streams.deleteMessage(dlqStream(bus), seq, false);
  return { deadLetterSeq: seq, subject: record.originalSubject, seq: ack.seq, duplicate: ack.duplicate };
}

/** The dead letter's trace context (the failed message's), and where the replay came from. */
function replayHeaders(stored: MsgHdrs | undefined, from: string): MsgHdrs {
  const h = natsHeaders();
  for (const key of ['traceparent', 'tracestate']) {
    if (stored?.has(key)) h.set(key, stored.get(key));
  }
  h.set(REPLAYED_FROM_HEADER, from);
  return h;
}
