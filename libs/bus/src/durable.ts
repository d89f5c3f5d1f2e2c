import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { Bus } from './connection';

/** The durable pull consumer one consumeEvents call reads through. */
export interface DurableSpec {
  stream: string;
  durable: string;
  filter: string;
  ackWaitMs: number;
}

/** Where a durable had got to: its stream (by creation time) and the highest contiguous acknowledged sequence. */
export interface DurablePosition {
  streamCreated: string;
  ackFloor: number;
}

/**
 * unchanged | created (new, from the stream's start) | updated (max_deliver, ack wait) |
 * replaced (new filter: deleted and made again after what it had acknowledged) |
 * recreated (the server had lost it: made again after the last position this process saw).
 */
export type DurableChange = 'unchanged' | 'created' | 'updated' | 'replaced' | 'recreated';

export interface EnsuredDurable {
  change: DurableChange;
  /** The stream sequence a new durable starts at (1 when it reads the whole stream). */
  startSeq?: number;
  position: DurablePosition;
}

function configOf(spec: DurableSpec, startSeq: number): Partial<ConsumerConfig> {
  return {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: spec.filter,
    ack_wait: nanos(spec.ackWaitMs),
    // Unlimited on the server: consumeEvents counts deliveries itself, leaving out the ones a
    // dependency outage caused (the failure ledger), and dead-letters past maxDeliver.
    max_deliver: -1,
    ...(startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : { deliver_policy: DeliverPolicy.All }),
  };
}

async function infoOrNothing(bus: Bus, spec: DurableSpec): Promise<ConsumerInfo | undefined> {
  try {
    return await bus.jsm.consumers.info(spec.stream, spec.durable);
  } catch (err) {
    if (isConsumerNotFound(err)) return undefined;
    throw err;
  }
}

export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ConsumerNotFoundError' || /consumer not found/i.test(err.message));
}

export function isStreamNotFound(err: unknown): boolean {
  return err instanceof Error && (err.name === 'StreamNotFoundError' || /stream not found/i.test(err.message));
}

/**
 * Makes the durable match `spec`, keeping its place in the stream. nats-server 2.9 takes a
 * consumers.add with another filter on an existing durable and then skips everything it had not yet
 * delivered, so a changed filter is a delete and a new durable from the acknowledged floor instead
 * (what sat between the floor and the old position is delivered again: at least once, never lost).
 * `lastKnown` is where this process last saw the durable, for making it again after the server lost it.
 */
export async function ensureDurable(bus: Bus, spec: DurableSpec, lastKnown?: DurablePosition): Promise<EnsuredDurable> {
  const stream = await bus.jsm.streams.info(spec.stream);
  const existing = await infoOrNothing(bus, spec);
  const positionAt = (ackFloor: number): DurablePosition => ({ streamCreated: stream.created, ackFloor });
  if (!existing) {
    const sameStream = lastKnown?.streamCreated === stream.created;
    const startSeq = sameStream ? lastKnown.ackFloor + 1 : 1;
    await add(bus, spec, startSeq);
    return { change: sameStream ? 'recreated' : 'created', startSeq, position: positionAt(startSeq - 1) };
  }
  const floor = existing.ack_floor.stream_seq;
  if (existing.config.filter_subject !== spec.filter || existing.config.ack_policy !== AckPolicy.Explicit) {
    await bus.jsm.consumers.delete(spec.stream, spec.durable);
    await add(bus, spec, floor + 1);
    return { change: 'replaced', startSeq: floor + 1, position: positionAt(floor) };
  }
  if (existing.config.max_deliver !== -1 || existing.config.ack_wait !== nanos(spec.ackWaitMs)) {
    await bus.jsm.consumers.update(spec.stream, spec.durable, { max_deliver: -1, ack_wait: nanos(spec.ackWaitMs) });
    return { change: 'updated', position: positionAt(floor) };
  }
  return { change: 'unchanged', position: positionAt(floor) };
}

async function add(bus: Bus, spec: DurableSpec, startSeq: number): Promise<void> {
  try {
    await bus.jsm.consumers.add(spec.stream, configOf(spec, startSeq));
  } catch (err) {
    // Another replica sharing the durable may have just made it: fine if it reads what we would.
    const now = await infoOrNothing(bus, spec);
    if (now?.config.filter_subject !== spec.filter) throw err;
  }
}
