import { nanos } from '@nats-io/nats-core';
import { RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { STREAMS, type StreamKey } from '@mlpipe/contracts';
import type { Bus } from './connection';
import { streamNameOf, subjectOf } from './naming';

/** JetStream drops a second publish with the same message id within this window. */
const DUPLICATE_WINDOW_MS = 10 * 60_000;

/** Creates every stream of the catalogue, or brings an existing one's subjects up to date. Idempotent. */
export async function ensureStreams(bus: Bus): Promise<void> {
  for (const key of Object.keys(STREAMS) as StreamKey[]) {
    const config: Partial<StreamConfig> & { name: string } = {
      name: streamNameOf(bus.namespace, key),
      subjects: STREAMS[key].subjects.map((s) => subjectOf(bus.namespace, s)),
      description: STREAMS[key].description,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    };
    try {
      await bus.jsm.streams.info(config.name);
      await bus.jsm.streams.update(config.name, config);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      await bus.jsm.streams.add(config);
    }
  }
}

/** Removes the namespace's streams (tests clean up with this). */
export async function deleteStreams(bus: Bus): Promise<void> {
  for (const key of Object.keys(STREAMS) as StreamKey[]) {
    try {
      await bus.jsm.streams.delete(streamNameOf(bus.namespace, key));
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
  }
}

function isStreamNotFound(err: unknown): boolean {
  return err instanceof Error && /stream not found/i.test(err.message);
}
