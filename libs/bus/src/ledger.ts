import { Kvm, type KV } from '@nats-io/kv';
import type { Bus } from './connection';
import { NO_TRANSIENT_HISTORY, type TransientHistory } from './failures';
import { streamReplicasOf } from './streams';

/**
 * The failure ledger: each message's transient failures, kept in a JetStream KV bucket of the
 * namespace. JetStream counts every delivery and nothing else; the ledger says how many of them a
 * dependency outage caused, so those are not counted against maxDeliver, however many processes or
 * replicas the deliveries went to and whether one restarted. Entries are written only when a message
 * fails transiently and removed when it is settled; the bucket's TTL sweeps up what a crash left.
 * When the bucket cannot be reached, a copy in memory stands in for it.
 */
export interface FailureLedger {
  read(key: string): Promise<TransientHistory>;
  write(key: string, history: TransientHistory): Promise<void>;
  forget(key: string): Promise<void>;
}

const LEDGER_TTL_MS = 7 * 24 * 3600_000;

export function ledgerBucketOf(ns: string): string {
  return `${ns}-consumer-failures`;
}

/** The JetStream stream behind the bucket (KV buckets are streams named KV_<bucket>). */
export function ledgerStreamOf(ns: string): string {
  return `KV_${ledgerBucketOf(ns)}`;
}

/** Creates the namespace's ledger bucket, or binds to it. Idempotent. */
export async function ensureLedger(bus: Bus): Promise<KV> {
  return new Kvm(bus.js).create(ledgerBucketOf(bus.namespace), { history: 1, ttl: LEDGER_TTL_MS, timeout: 5000, replicas: streamReplicasOf(bus) });
}

/** A message's key: stream and durable (one consumer's view) and the stream sequence. */
export function ledgerKey(stream: string, durable: string, seq: number): string {
  return `${stream}.${durable}.${seq}`;
}

export function openLedger(bus: Bus): FailureLedger {
  const memory = new Map<string, TransientHistory>();
  let kv: Promise<KV> | undefined;
  const bucket = async (): Promise<KV> => {
    kv ??= ensureLedger(bus);
    try {
      return await kv;
    } catch (err) {
      kv = undefined; // try again next time (the server may be back, or have lost the bucket)
      throw err;
    }
  };
  const remember = (key: string, h: TransientHistory) => {
    memory.delete(key);
    memory.set(key, h);
    if (memory.size > 10_000) memory.delete(memory.keys().next().value as string);
  };
  return {
    read: async (key) => {
      const local = memory.get(key) ?? NO_TRANSIENT_HISTORY;
      try {
        const entry = await (await bucket()).get(key);
        if (!entry || entry.operation !== 'PUT') return local;
        const stored = entry.json<TransientHistory>();
        // Whichever copy saw more (a write may have missed the bucket while it was unreachable).
        return stored.failures >= local.failures ? stored : local;
      } catch {
        kv = undefined;
        return local;
      }
    },
    write: async (key, history) => {
      remember(key, history);
      try {
        await (await bucket()).put(key, JSON.stringify(history));
      } catch {
        kv = undefined; // the copy in memory carries on; the next write tries the bucket again
      }
    },
    forget: async (key) => {
      memory.delete(key);
      try {
        await (await bucket()).purge(key);
      } catch {
        kv = undefined;
      }
    },
  };
}
