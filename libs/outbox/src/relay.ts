import type { Registry } from 'prom-client';
import { publishEvent, type Bus } from '@mlpipe/bus';
import type { EventData, EventType } from '@mlpipe/contracts';
import { describeError, type Logger } from '@mlpipe/common';
import type { Pool } from '@mlpipe/db';
import { listen } from './listener';
import { relayMetrics } from './metrics';
import { outboxNames } from './names';
import { prunePublished, refreshGauges, relayRound, type PublishFn } from './round';

export interface RelayOptions {
  pool: Pool;
  bus: Bus;
  /** The service's PostgreSQL schema, whose `outbox` table this relay empties. */
  schema: string;
  logger: Logger;
  metrics: Registry;
  /** Looks at the table this often even without a notification (a missed one, an outage healed). Default 1 s. */
  pollMs?: number;
  /** Rows per pass (one transaction). Default 100. */
  batchSize?: number;
  /** Retries after a failure back off from 250 ms, doubling up to this. Default 5 s. */
  maxBackoffMs?: number;
  /** Published rows are deleted after this long. Default a day. */
  retainMs?: number;
  /** How often to prune. Default 10 minutes. */
  pruneEveryMs?: number;
  /** Replaces the publish (tests inject failures here). Default: publishEvent with the row's event id as message id. */
  publish?: PublishFn;
}

export interface OutboxRelay {
  /** Finishes the row in flight, stops, and closes its listening connection; idempotent. */
  stop(): Promise<void>;
}

/**
 * Publishes a service's committed outbox rows to JetStream, oldest first, and marks them. Wakes on
 * the outbox's NOTIFY, polls besides, and retries with capped backoff while NATS or PostgreSQL is
 * down; a row is only ever marked, never dropped. Several relays of one schema may run (replicas):
 * one publishes at a time.
 */
export function startOutboxRelay(opts: RelayOptions): OutboxRelay {
  const { pool, bus, logger } = opts;
  const names = outboxNames(opts.schema);
  const metrics = relayMetrics(opts.metrics);
  const pollMs = opts.pollMs ?? 1000;
  const maxBackoffMs = opts.maxBackoffMs ?? 5000;
  const retainMs = opts.retainMs ?? 24 * 3_600_000;
  const pruneEveryMs = opts.pruneEveryMs ?? 10 * 60_000;
  const publish: PublishFn =
    opts.publish ?? (async (e) => void (await publishEvent(bus, e.type, e.data as EventData<EventType>, { source: e.source, eventId: e.eventId })));

  let stopped = false;
  const nap = new Nap();
  const listener = listen(pool.options, names.channel, () => nap.wake(), logger);
  // A reconnect ends the wait at once: the rows that piled up during the outage go out now.
  const unwatch = bus.connection.onReconnect(() => nap.wake(true));
  const outage = new OutageLog(logger, names.schema);
  let lastPrune = 0;

  const pass = async (): Promise<'again' | 'wait' | 'back off'> => {
    if (!bus.connection.connected()) {
      // No publish to time out on: only the gauges, and a warning once something is waiting.
      const pending = await refreshGauges(pool, names, metrics).catch(() => undefined);
      if (pending) outage.failed('NATS is disconnected');
      return 'back off';
    }
    const outcome = await relayRound({ pool, names, publish, metrics, batchSize: opts.batchSize ?? 100, stopping: () => stopped });
    await refreshGauges(pool, names, metrics);
    if (outcome.kind === 'failed') {
      metrics.publishErrors.inc({ schema: names.schema });
      outage.failed(describeError(outcome.err));
      return 'back off';
    }
    outage.recovered();
    if (Date.now() - lastPrune >= pruneEveryMs) {
      lastPrune = Date.now();
      const pruned = await prunePublished(pool, names, retainMs);
      if (pruned) logger.debug({ schema: names.schema, pruned }, 'outbox pruned');
    }
    return outcome.kind === 'more' ? 'again' : 'wait';
  };

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      nap.beginPass();
      let next: Awaited<ReturnType<typeof pass>>;
      try {
        next = await pass();
      } catch (err) {
        metrics.publishErrors.inc({ schema: names.schema });
        outage.failed(`PostgreSQL: ${describeError(err)}`);
        next = 'back off';
      }
      if (stopped) break;
      if (next === 'again') continue;
      if (next === 'wait') {
        failures = 0;
        await nap.sleep(pollMs, true);
      } else {
        failures++;
        await nap.sleep(Math.min(maxBackoffMs, 250 * 2 ** (failures - 1)), false);
      }
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        stopped = true;
        unwatch();
        nap.wake(true);
        await loop;
        await listener.close();
      })();
      return stopping;
    },
  };
}

/**
 * The relay's wait between passes. A notification ends a poll wait at once, but not a backoff
 * (an outage would otherwise turn every commit into a retry); one that arrives mid-pass makes the
 * next wait return at once, since the pass may have read the table before that row committed.
 */
class Nap {
  private end: (() => void) | undefined;
  private wakeable = false;
  private missed = false;

  /** A pass is about to read the table: what was notified before now, it will see. */
  beginPass(): void {
    this.missed = false;
  }

  sleep(ms: number, wakeable: boolean): Promise<void> {
    if (wakeable && this.missed) {
      this.missed = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(), ms);
      this.wakeable = wakeable;
      this.end = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake(force = false): void {
    if (this.end && (force || this.wakeable)) this.finish();
    else this.missed = true;
  }

  private finish(): void {
    const end = this.end;
    this.end = undefined;
    this.missed = false;
    end?.();
  }
}

/** One warning when publishing stops working and one line when it works again, not one per retry. */
class OutageLog {
  private since: number | undefined;
  constructor(
    private readonly logger: Logger,
    private readonly schema: string,
  ) {}

  failed(reason: string): void {
    if (this.since !== undefined) return;
    this.since = Date.now();
    this.logger.warn({ schema: this.schema, reason }, 'outbox relay cannot publish; events wait in the outbox and are retried');
  }

  recovered(): void {
    if (this.since === undefined) return;
    this.logger.info({ schema: this.schema, downMs: Date.now() - this.since }, 'outbox relay publishing again');
    this.since = undefined;
  }
}
