import { streamNameOf, type Bus } from '@mlpipe/bus';
import type { Envelope, StreamKey } from '@mlpipe/contracts';

/** What one stored message of a stream is: its JetStream message id and envelope. */
export interface Stored {
  seq: number;
  msgId: string | undefined;
  /** The W3C trace context the publisher sent along, if any. */
  traceparent: string | undefined;
  envelope: Envelope;
}

/** Every message a stream holds now, in stream order (read back from the server, not from a consumer). */
export async function storedEvents(bus: Bus, key: StreamKey): Promise<Stored[]> {
  const name = streamNameOf(bus.namespace, key);
  const { state } = await bus.jsm.streams.info(name);
  const out: Stored[] = [];
  if (!state.messages) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await bus.jsm.streams.getMessage(name, { seq });
    if (m) out.push({ seq, msgId: m.header?.get('Nats-Msg-Id') || undefined, traceparent: m.header?.get('traceparent') || undefined, envelope: m.json<Envelope>() });
  }
  return out;
}
