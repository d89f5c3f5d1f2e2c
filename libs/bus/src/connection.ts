import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { TransientError } from '@mlpipe/common';
import { validateNamespace } from './naming';

/**
 * What the client knows about its link to the server. nats.js reconnects by itself and keeps
 * core subscriptions, but whatever was published while the link was down is gone: services use
 * this to pause timeouts during an outage and to resynchronise live state once it is back.
 */
export interface ConnectionWatch {
  /** false from a disconnect until the next reconnect. */
  connected(): boolean;
  /** When the current outage began (Date.now() ms), undefined while connected. */
  downSince(): number | undefined;
  /** Called after every reconnect with the outage's length; returns an unsubscribe function. */
  onReconnect(listener: (downMs: number) => void): () => void;
  onDisconnect(listener: () => void): () => void;
}

export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly namespace: string;
  readonly connection: ConnectionWatch;
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
    connection: watchConnection(nc),
    close: () => {
      closing ??= nc.isClosed() ? Promise.resolve() : nc.drain().catch(() => nc.close());
      return closing;
    },
  };
}

function watchConnection(nc: NatsConnection): ConnectionWatch {
  let downSince: number | undefined;
  const reconnected = new Set<(downMs: number) => void>();
  const disconnected = new Set<() => void>();
  const notify = <A extends unknown[]>(listeners: Set<(...a: A) => void>, ...args: A) => {
    for (const l of [...listeners]) {
      try {
        l(...args);
      } catch {
        // a listener's failure is its own; the others still hear of the change
      }
    }
  };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' && downSince === undefined) {
        downSince = Date.now();
        notify(disconnected);
      } else if (s.type === 'reconnect') {
        const downMs = Date.now() - (downSince ?? Date.now());
        downSince = undefined;
        notify(reconnected, downMs);
      }
    }
  })().catch(() => undefined);
  return {
    connected: () => downSince === undefined && !nc.isClosed(),
    downSince: () => downSince,
    onReconnect: (l) => {
      reconnected.add(l);
      return () => reconnected.delete(l);
    },
    onDisconnect: (l) => {
      disconnected.add(l);
      return () => disconnected.delete(l);
    },
  };
}
