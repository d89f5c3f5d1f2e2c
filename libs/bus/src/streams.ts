import { nanos } from '@nats-io/nats-core';
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { DEFAULT_STREAM_LIMITS, STREAMS, type StreamKey } from '@mlpipe/contracts';
import type { Bus } from './connection';
import { isStreamNotFound } from './durable';
import { ensureLedger, ledgerStreamOf } from './ledger';
import { streamNameOf, subjectOf } from './naming';

/** JetStream drops a second publish with the same message id within this window (shortened to a shorter max age). */
const DUPLICATE_WINDOW_MS = 10 * 60_000;

/** How much one stream keeps: messages older than `maxAgeMs` or beyond `maxBytes` go, oldest first; 0 is no limit. */
export interface StreamLimit {
  maxAgeMs: number;
  maxBytes: number;
}
export type StreamLimits = Record<StreamKey, StreamLimit>;

// The limits a process configured for a bus, so that every later ensureStreams on it (a consumer
// re-making a lost stream) uses them too. Keyed by the bus object: nothing is shared across buses.
const configured = new WeakMap<Bus, StreamLimits>();

/** Records the configured limits for `bus` (the runtime does this from the STREAM_* settings at start-up). */
export function useStreamLimits(bus: Bus, limits: StreamLimits): void {
  configured.set(bus, limits);
}

// Copies of every message each stream (and KV bucket) keeps on a NATS cluster (STREAM_REPLICAS).
// Kept per bus like the limits; unset, new streams get one copy and existing ones keep theirs.
const replicasOf = new WeakMap<Bus, number>();

/** Records STREAM_REPLICAS for `bus`: 3 on a three-server cluster keeps every stream through the loss of one server. */
export function useStreamReplicas(bus: Bus, replicas: number): void {
  replicasOf.set(bus, replicas);
}

/** The replicas configured for `bus` (1 unless useStreamReplicas said otherwise), for KV buckets made beside the streams. */
export function streamReplicasOf(bus: Bus): number {
  return replicasOf.get(bus) ?? 1;
}

/** The part of a stream's config that says what it keeps. */
function retentionConfig(limit: StreamLimit): Pick<StreamConfig, 'max_age' | 'max_bytes' | 'discard' | 'duplicate_window'> {
  return {
    max_age: nanos(limit.maxAgeMs),
    max_bytes: limit.maxBytes > 0 ? limit.maxBytes : -1,
    // At its limit a stream drops its oldest messages: ingestion goes on (DiscardPolicy.New would refuse publishes).
    discard: DiscardPolicy.Old,
    // The server refuses a duplicate window longer than the max age.
    duplicate_window: nanos(limit.maxAgeMs > 0 ? Math.min(DUPLICATE_WINDOW_MS, limit.maxAgeMs) : DUPLICATE_WINDOW_MS),
  };
}

/**
 * Creates every stream of the catalogue, or brings an existing one's subjects up to date, and the
 * consumers' failure ledger (a KV bucket). Idempotent; consumers call it again when the server lost them.
 *
 * Replicas: STREAM_REPLICAS via useStreamReplicas (one copy unless configured).
 *
 * Limits: given (or configured for the bus with useStreamLimits), existing streams are updated in
 * place to them, their messages kept (a smaller limit drops the oldest at once). Without either, a
 * new stream gets DEFAULT_STREAM_LIMITS and an existing one keeps what it has, so a tool or test that
 * knows no settings never undoes the deployment's.
 */
export async function ensureStreams(bus: Bus, limits: StreamLimits | undefined = configured.get(bus)): Promise<void> {
  for (const key of Object.keys(STREAMS) as StreamKey[]) {
    const config: Partial<StreamConfig> & { name: string } = {
      name: streamNameOf(bus.namespace, key),
      subjects: STREAMS[key].subjects.map((s) => subjectOf(bus.namespace, s)),
      description: STREAMS[key].description,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    };
    // Configured replicas are applied to an existing stream too (the server scales it in place).
    const replicas = replicasOf.get(bus);
    try {
      await bus.jsm.streams.info(config.name);
      await bus.jsm.streams.update(config.name, { ...config, ...(limits ? retentionConfig(limits[key]) : {}), ...(replicas ? { num_replicas: replicas } : {}) });
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      await bus.jsm.streams.add({ ...config, ...retentionConfig((limits ?? DEFAULT_STREAM_LIMITS)[key]), num_replicas: replicas ?? 1 });
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
