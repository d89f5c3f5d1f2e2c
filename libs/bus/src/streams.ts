import { nanos } from '@nats-io/nats-core';
import { RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { STREAMS, type StreamKey } from '@mlpipe/contracts';
import type { Bus } from './connection';
import { isStreamNotFound } from './durable';
import { ensureLedger, ledgerStreamOf } from './ledger';
import { streamNameOf, subjectOf } from './naming';

/** JetStream drops a second publish with the same message id within this window. */
const DUPLICATE_WINDOW_MS = 10 * 60_000;

/**
 * Creates every stream of the catalogue, or brings an existing one's subjects up to date, and the
 * consumers' failure ledger (a KV bucket). Idempotent; consumers call it again when the server lost them.
 */
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
  await ensureLedger(bus);
}

/** Removes the namespace's streams and its failure ledger (tests clean up with this). */
export async function deleteStreams(bus: Bus): Promise<void> {
  const names = [...(Object.keys(STREAMS) as StreamKey[]).map((key) => streamNameOf(bus.namespace, key)), ledgerStreamOf(bus.namespace)];
  for (const name of names) {
    try {
      await bus.jsm.streams.delete(name);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
  }
}
