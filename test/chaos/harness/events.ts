import type { Subscription } from '@nats-io/nats-core';
import { streamNameOf, typeOfSubject, type Bus } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { DeadLetterSchema, parseEnvelope, type DeadLetter, type Envelope, type EventType, type StreamKey } from '@mlpipe/contracts';

export interface Seen<T extends EventType = EventType> {
  at: number;
  envelope: Envelope<T>;
}

/**
 * The scenario's live view of the training and model events (a core subscription: it hears every
 * event as it is published, while the harness is connected). It triggers faults at a moment of the
 * job ("the group is forming", "the last epoch is done"); the counts that are asserted are read from
 * the streams themselves afterwards (readStream), which keep what a disconnected listener missed.
 */
export class EventLog {
  private readonly seen: Seen[] = [];
  private readonly ids = new Set<string>();
  private readonly subs: Subscription[];

  constructor(private readonly bus: Bus) {
    this.subs = ['train.>', 'model.>'].map((s) =>
      bus.nc.subscribe(`${bus.namespace}.${s}`, { callback: (err, msg) => (err ? undefined : this.record(msg.subject, msg.data)) }),
    );
  }

  private record(subject: string, data: Uint8Array): void {
    const type = typeOfSubject(this.bus.namespace, subject) as EventType;
    try {
      const parsed = parseEnvelope(type, JSON.parse(new TextDecoder().decode(data)));
      // A publish retried after an unanswered try is heard again with the same event id: one event.
      if (parsed.ok && !this.ids.has(parsed.envelope.eventId)) {
        this.ids.add(parsed.envelope.eventId);
        this.seen.push({ at: Date.now(), envelope: parsed.envelope });
      }
    } catch {
      // not an event of the catalogue
    }
  }

  of<T extends EventType>(type: T, jobId?: string): Seen<T>[] {
    return this.seen.filter(
      (s): s is Seen<T> => s.envelope.type === type && (jobId === undefined || (s.envelope.data as { jobId?: string }).jobId === jobId),
    );
  }

  async waitFor<T extends EventType>(type: T, jobId: string, timeoutMs: number, match: (e: Envelope<T>) => boolean = () => true): Promise<Seen<T>> {
    return eventually(() => this.of(type, jobId).find((s) => match(s.envelope)), timeoutMs, `${type} of job ${jobId}`);
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}

/** Every message a stream holds now, in order (a JetStream read: it includes what was published during an outage). */
export interface StoredEvent {
  seq: number;
  subject: string;
  data: Uint8Array;
  /** When the server stored it (a publish retried through an outage is stored when it got through). */
  storedAt: number;
}

export async function readStream(bus: Bus, key: StreamKey): Promise<StoredEvent[]> {
  const name = streamNameOf(bus.namespace, key);
  const { state } = await bus.jsm.streams.info(name);
  const out: StoredEvent[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await bus.jsm.streams.getMessage(name, { seq }).catch(() => null);
    if (m) out.push({ seq, subject: m.subject, data: m.data, storedAt: m.time.getTime() });
  }
  return out;
}

/** The events of `type` in their stream, for one job, each with when the server stored it. */
export async function storedEvents<T extends EventType>(bus: Bus, key: StreamKey, type: T, jobId: string): Promise<(Envelope<T> & { storedAt: number })[]> {
  const out: (Envelope<T> & { storedAt: number })[] = [];
  for (const m of await readStream(bus, key)) {
    if (typeOfSubject(bus.namespace, m.subject) !== type) continue;
    const parsed = parseEnvelope(type, JSON.parse(new TextDecoder().decode(m.data)));
    if (parsed.ok && (parsed.envelope.data as { jobId?: string }).jobId === jobId) out.push({ ...parsed.envelope, storedAt: m.storedAt });
  }
  return out;
}

/** The events of `type` in their stream, for one job. */
export async function streamEvents<T extends EventType>(bus: Bus, key: StreamKey, type: T, jobId: string): Promise<Envelope<T>[]> {
  return storedEvents(bus, key, type, jobId);
}

/** What the dead-letter stream holds (libs/bus consume publishes to `<ns>.dlq.<type>`, stream <NS>_DLQ). */
export async function deadLetters(bus: Bus): Promise<DeadLetter[]> {
  return (await readStream(bus, 'DLQ')).map((m) => DeadLetterSchema.parse(JSON.parse(new TextDecoder().decode(m.data))));
}
