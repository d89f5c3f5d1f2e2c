import { connect } from '@nats-io/transport-node';
import { PermissionViolationError, type NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ConfigError, describeError, TransientError, type Logger } from '@mlpipe/common';
import { inboxPrefixOf } from './accounts';
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
  /** The NATS user it connected as (NATS_USER or the URL's), if any. */
  readonly user?: string | undefined;
  readonly connection: ConnectionWatch;
  /** Drains subscriptions and closes the connection; idempotent. */
  close(): Promise<void>;
}

export interface BusOptions {
  url: string;
  name: string;
  namespace: string;
  /** The NATS user (NATS_USER) and its password (NATS_PASSWORD); both or neither. A user in the URL works too. */
  user?: string | undefined;
  password?: string | undefined;
  /** Where a subject the server refuses this user is reported (once a minute per subject). */
  logger?: Logger | undefined;
  /**
   * How often the client pings the server (NATS_PING_INTERVAL_MS); after 3 unanswered it reconnects
   * to another server. Default nats.js's 2 min: a server behind a cut link then looks alive for minutes.
   */
  pingIntervalMs?: number | undefined;
}

/** The URL(s) with any password or token replaced by "***", for messages and logs. */
export function redactNatsUrl(url: string): string {
  return url.replace(/\/\/([^@/,\s]*)@/g, (_m, auth: string) => {
    const colon = auth.indexOf(':');
    return colon >= 0 ? `//${auth.slice(0, colon)}:***@` : '//***@';
  });
}

/** The user the URL carries (nats://user:pass@host), if any. */
function userInUrl(url: string): string | undefined {
  const m = /\/\/([^:@/,\s]+):[^@/,\s]*@/.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

/** The server turned the login down: a wrong or missing NATS_USER/NATS_PASSWORD, which waiting cannot heal. */
function isAuthRefusal(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AuthorizationError' || /authorization violation|authentication (expired|timeout)/i.test(err.message));
}

export async function connectBus(opts: BusOptions): Promise<Bus> {
  const namespace = validateNamespace(opts.namespace);
  const where = redactNatsUrl(opts.url);
  if (Boolean(opts.user) !== Boolean(opts.password)) {
    throw new ConfigError(`NATS_USER and NATS_PASSWORD go together: set both (the user's password is in its Secret or .env) or neither`);
  }
  const user = opts.user ?? userInUrl(opts.url);
  let nc: NatsConnection;
  try {
    nc = await connect({
      // NATS_URL may list several servers of a cluster (comma-separated): the client tries them in turn.
      servers: opts.url.split(',').map((u) => u.trim()).filter(Boolean),
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      ...(opts.pingIntervalMs ? { pingInterval: opts.pingIntervalMs, maxPingOut: 3 } : {}),
      ...(opts.user && opts.password ? { user: opts.user, pass: opts.password } : {}),
      // Replies and pulled messages come to the user's own inbox: no other user may subscribe to it.
      ...(user ? { inboxPrefix: inboxPrefixOf(user) } : {}),
    });
  } catch (cause) {
    if (isAuthRefusal(cause)) {
      const who = user ? `user "${user}"` : 'a client without credentials';
      throw new ConfigError(`cannot reach NATS at ${where}: it refused ${who}; check NATS_USER and NATS_PASSWORD (${describeError(cause)})`, { cause });
    }
    throw new TransientError(`cannot reach NATS at ${where}: start it with JetStream enabled, e.g. "nats-server -js"`, { cause });
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5000 });
  } catch (cause) {
    await nc.close();
    if (cause instanceof PermissionViolationError) {
      throw new ConfigError(`NATS at ${where} does not let ${user ? `user "${user}"` : 'this client'} ask for JetStream ($JS.API.INFO): see libs/bus/src/accounts.ts`, { cause });
    }
    throw new TransientError(`NATS at ${where} has no JetStream: restart it with "-js"`, { cause });
  }
  if (opts.logger) reportRefusals(nc, opts.logger, user);
  let closing: Promise<void> | undefined;
  return {
    nc,
    js: jetstream(nc),
    jsm,
    namespace,
    user,
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

const REFUSAL_LOG_EVERY_MS = 60_000;

/**
 * Logs every subject the server refuses this user, with the operation: the call that made it fails
 * on its own (a publish or request rejects, a subscription ends), and whoever called it decides what
 * follows, so a missing right is a warning naming the subject, never a crash loop.
 */
function reportRefusals(nc: NatsConnection, logger: Logger, user: string | undefined): void {
  const lastLogged = new Map<string, number>();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'error' || !(s.error instanceof PermissionViolationError)) continue;
      const { operation, subject, queue } = s.error;
      const key = `${operation} ${subject}`;
      const now = Date.now();
      if (now - (lastLogged.get(key) ?? -Infinity) < REFUSAL_LOG_EVERY_MS) continue;
      lastLogged.set(key, now);
      if (lastLogged.size > 1000) lastLogged.delete(lastLogged.keys().next().value as string);
      logger.warn(
        { natsUser: user, operation, subject, ...(queue ? { queue } : {}) },
        `NATS refused ${operation === 'publish' ? 'a publish to' : 'a subscription to'} ${subject} for user ${user ?? '(none)'}: not among its rights (libs/bus/src/accounts.ts)`,
      );
    }
  })().catch(() => undefined);
}
