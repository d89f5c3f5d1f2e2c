import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { TransientError } from '@mlpipe/common';
import { validateNamespace } from './naming';

export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly namespace: string;
  /** Drains subscriptions and closes the connection; idempotent. */
  close(): Promise<void>;
}

export interface BusOptions {
  url: string;
  name: string;
  namespace: string;
}

export async function connectBus(opts: BusOptions): Promise<Bus> {
  const namespace = validateNamespace(opts.namespace);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: opts.url, name: opts.name, maxReconnectAttempts: -1, reconnectTimeWait: 1000 });
  } catch (cause) {
    throw new TransientError(
      `cannot reach NATS at ${opts.url}: start it with JetStream enabled, e.g. "nats-server -js"`,
      { cause },
    );
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5000 });
  } catch (cause) {
    await nc.close();
    throw new TransientError(`NATS at ${opts.url} has no JetStream: restart it with "-js"`, { cause });
  }
  let closing: Promise<void> | undefined;
  return {
    nc,
    js: jetstream(nc),
    jsm,
    namespace,
    close: () => {
      closing ??= nc.isClosed() ? Promise.resolve() : nc.drain().catch(() => nc.close());
      return closing;
    },
  };
}
