import { randomBytes } from 'node:crypto';
import { connectBus, deleteStreams, ensureStreams, useStreamLimits, type Bus, type StreamLimits } from '@mlpipe/bus';

/**
 * A bus on the real NATS server with a namespace of its own (so its own streams and subjects),
 * removed on dispose. Only runs when a test calls it.
 */
export type TestBus = Bus & { dispose(): Promise<void> };

// Small: nats-server reserves every stream's max_bytes in its store up front, and many test
// namespaces share the server at once (the deployment defaults would reserve ~2 GiB each).
const TEST_STREAM_LIMIT = { maxAgeMs: 24 * 3_600_000, maxBytes: 32 * 1024 * 1024 };
export const TEST_STREAM_LIMITS: StreamLimits = { DATA: TEST_STREAM_LIMIT, TRAIN: TEST_STREAM_LIMIT, MODEL: TEST_STREAM_LIMIT, DLQ: TEST_STREAM_LIMIT };

export async function createTestBus(url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'): Promise<TestBus> {
  const namespace = `t${randomBytes(5).toString('hex')}`;
  const bus = await connectBus({ url, name: `test-${namespace}`, namespace });
  useStreamLimits(bus, TEST_STREAM_LIMITS);
  await ensureStreams(bus);
  return Object.assign(bus, {
    dispose: async () => {
      await deleteStreams(bus).catch(() => undefined);
      await deleteKvBuckets(bus).catch(() => undefined);
      await bus.close();
    },
  });
}

/** The namespace's KV buckets (e.g. the trainer's coordinator leases) live in streams named KV_<namespace>_…. */
async function deleteKvBuckets(bus: Bus): Promise<void> {
  const prefix = `KV_${bus.namespace.replace(/-/g, '_')}_`;
  for await (const name of bus.jsm.streams.names()) {
    if (name.startsWith(prefix)) await bus.jsm.streams.delete(name);
  }
}
