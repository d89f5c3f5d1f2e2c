import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { EVENTS, type Envelope, type EventType } from '@mlpipe/contracts';
import { describeError, type Logger } from '@mlpipe/common';
import type { Registry } from 'prom-client';
import type { Bus } from './connection';
import { ensureDurable, isConsumerNotFound, isStreamNotFound, type DurablePosition, type DurableSpec, type EnsuredDurable } from './durable';
import type { RetryPolicy } from './failures';
import { openLedger } from './ledger';
import { consumerMetrics } from './metrics';
import { streamNameOf, subjectOf } from './naming';
import { messageSettler, type HandlerMap } from './settle';
import { ensureStreams } from './streams';

export type { EventHandler, HandlerContext, HandlerMap } from './settle';
export { SupersededDelivery } from './settle';

export interface ConsumeOptions {
  /** Durable consumer name; replicas sharing it share the work (each message goes to one). */
  durable: string;
  handlers: HandlerMap;
  logger: Logger;
  ackWaitMs?: number;
  /**
   * Deliveries a message may fail with an unknown error (neither transient nor permanent, so
   * probably a bug) before it is dead-lettered; default 5. Transient failures do not count.
   */
  maxDeliver?: number;
  /** Delay before redelivery after a failure, by the number of failures of its kind so far (1 for the first). */
  backoffMs?: (failures: number) => number;
  /**
   * How long transient failures (isTransient: PostgreSQL, the store or NATS unavailable) may keep
   * a message waiting, as the sum of its redelivery delays, before it is dead-lettered saying so.
   * Default 10 minutes.
   */
  transientRetryMs?: number;
  /** Messages handled at once by this process. */
  maxInFlight?: number;
  /**
   * Called for every message sent to the dead-letter subject, with its event when it was a valid
   * one (a handler gave up on it), e.g. to record the failure where a person will see it.
   */
  onDeadLetter?: (type: string, reason: string, event?: Envelope) => void;
  /** Where to export this consumer's lag (messages not yet delivered), redeliveries and dead letters. */
  metrics?: Registry;
  /**
   * How long one pull waits on the server (≥ 1000 ms; default 30 s). Two missed idle heartbeats
   * (each half of it) are how a consumer the server lost is noticed while no message flows.
   */
  pullExpiresMs?: number;
}

export interface RunningConsumer {
  /** Stops fetching, waits for in-flight handlers to finish. */
  stop(): Promise<void>;
}

const POSITION_POLL_MS = 15_000;
export const DEFAULT_TRANSIENT_RETRY_MS = 10 * 60_000;

export const defaultBackoff = (failures: number): number => Math.min(30_000, 500 * 2 ** (failures - 1));

function durableSpecOf(bus: Bus, opts: ConsumeOptions): DurableSpec {
  const types = Object.keys(opts.handlers) as EventType[];
  const first = types[0];
  if (!first) throw new Error('consumeEvents needs at least one handler');
  const streamKey = EVENTS[first].stream;
  if (types.some((t) => EVENTS[t].stream !== streamKey)) throw new Error('one consumer reads one stream');
  return {
    stream: streamNameOf(bus.namespace, streamKey),
    durable: opts.durable,
    // nats-server 2.9 takes one filter subject: the exact subject for one type, else the stream's.
    filter: types.length === 1 ? subjectOf(bus.namespace, first) : subjectOf(bus.namespace, `${first.split('.')[0]}.>`),
    ackWaitMs: opts.ackWaitMs ?? 30_000,
  };
}

/**
 * Durable pull consumer over one stream: validates each message against the catalogue, acks on
 * success, lets messages wait through a dependency outage, and dead-letters poison messages with
 * the reason (never a crash loop). When the server loses the durable (deleted, or restarted with
 * an empty store) it makes the streams and the durable again and carries on.
 */
export async function consumeEvents(bus: Bus, opts: ConsumeOptions): Promise<RunningConsumer> {
  const spec = durableSpecOf(bus, opts);
  const log = opts.logger.child({ consumer: opts.durable });
  const policy: RetryPolicy = {
    maxDeliver: opts.maxDeliver ?? 5,
    transientRetryMs: opts.transientRetryMs ?? DEFAULT_TRANSIENT_RETRY_MS,
    backoffMs: opts.backoffMs ?? defaultBackoff,
  };
  const first = await ensureDurable(bus, spec);
  describeChange(log, first);
  let position: DurablePosition = first.position;
  const observed = opts.metrics ? consumerMetrics(opts.metrics) : undefined;
  const handle = messageSettler({ bus, durable: opts.durable, handlers: opts.handlers, policy, ledger: openLedger(bus), log, observed, onDeadLetter: opts.onDeadLetter });

  const halt = new AbortController();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        halt.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      halt.signal.addEventListener('abort', done, { once: true });
    });
  let current: ConsumerMessages | undefined;
  /** Stopped, or the connection is closing under us (bus.close() without stop()): nothing more to do. */
  const over = () => halt.signal.aborted || bus.nc.isClosed() || bus.nc.isDraining();

  /** The acknowledged floor, from the server every so often and from our own in-order acks between. */
  const advance = (msg: JsMsg) => {
    if (msg.seq === position.ackFloor + 1) position = { ...position, ackFloor: msg.seq };
  };
  const pollTimer = setInterval(() => {
    bus.jsm.consumers.info(spec.stream, spec.durable).then(
      (info) => {
        observed?.pending.set({ durable: opts.durable }, info.num_pending);
        position = { ...position, ackFloor: Math.max(position.ackFloor, info.ack_floor.stream_seq) };
      },
      () => undefined,
    );
  }, POSITION_POLL_MS);
  pollTimer.unref();

  /** Ends the current pull so the loop makes the durable again; the library alone would retry a lost one forever. */
  let lostDurable = false;
  const lost = (why: string) => {
    if (halt.signal.aborted || !current) return;
    log.warn({ why }, 'the server lost the durable consumer; making it again');
    lostDurable = true;
    void current.close();
  };
  const watch = async (messages: ConsumerMessages) => {
    for await (const s of messages.status()) {
      if (s.type === 'consumer_deleted' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') return lost(s.type);
    }
  };
  // Right after a reconnect is when a restarted server shows it lost the durable: ask at once.
  const offReconnect = bus.connection.onReconnect(() => {
    void (async () => {
      for (let i = 0; i < 20 && !over(); i++) {
        try {
          await bus.jsm.consumers.info(spec.stream, spec.durable);
          return;
        } catch (err) {
          if (isConsumerNotFound(err) || isStreamNotFound(err)) return lost(describeError(err));
          await pause(500); // JetStream may still be starting
        }
      }
    })();
  });

  const settleOne = async (msg: JsMsg): Promise<void> => {
    try {
      if ((await handle(msg)) === 'settled') advance(msg);
    } catch (err) {
      // Publishing the dead letter itself failed: leave the message for redelivery.
      log.error({ err: describeError(err), subject: msg.subject }, 'could not settle message');
      msg.nak(policy.backoffMs(msg.info.deliveryCount));
    }
  };

  const pullOnce = async (): Promise<void> => {
    const consumer = await bus.js.consumers.get(spec.stream, spec.durable);
    if ((opts.maxInFlight ?? 1) === 1) return pullWhenIdle(consumer);
    const messages = await consumer.consume({ max_messages: opts.maxInFlight ?? 1, ...(opts.pullExpiresMs ? { expires: opts.pullExpiresMs } : {}) });
    current = messages;
    // Stopped while the pull was being set up: close it, and let the loop below drain it (a
    // closed iterator only finishes closing once it is read).
    if (halt.signal.aborted) void messages.close();
    void watch(messages);
    for await (const msg of messages) await settleOne(msg);
  };

  /**
   * One message at a time, asked for only while idle. consume() asks for the next message as soon as
   * one arrives, so a replica busy with a long handler (a training job) holds a second message it
   * cannot start, which competing replicas that are free never see: a two-replica job then trains
   * on one. A fetch of one, repeated, leaves every waiting message to whoever is free.
   */
  const pullWhenIdle = async (consumer: Consumer): Promise<void> => {
    while (!over()) {
      const batch = await consumer.fetch({ max_messages: 1, expires: opts.pullExpiresMs ?? 30_000 });
      current = batch;
      if (halt.signal.aborted) void batch.close();
      void watch(batch);
      for await (const msg of batch) await settleOne(msg);
      if (lostDurable) {
        lostDurable = false;
        return;
      }
    }
  };

  /** Streams and durable made again (the server may be starting, or still away): until it works or we stop. */
  const remake = async (): Promise<void> => {
    for (let tries = 0; !over(); tries++) {
      try {
        await ensureStreams(bus);
        const ensured = await ensureDurable(bus, spec, position);
        position = ensured.position;
        if (ensured.change === 'created') log.warn('the stream is a new one (the server lost its store): durable consumer made again from its start');
        else if (ensured.change === 'unchanged') log.info('the durable consumer is there after all; consuming again');
        else describeChange(log, ensured);
        return;
      } catch (err) {
        log.warn({ err: describeError(err) }, 'cannot make the durable consumer again yet; retrying');
        await pause(Math.min(5000, 250 * 2 ** tries));
      }
    }
  };

  const loop = (async () => {
    for (let cycles = 0; !over(); cycles++) {
      const started = Date.now();
      try {
        await pullOnce();
      } catch (err) {
        if (!over()) log.warn({ err: describeError(err) }, 'consuming stopped');
      }
      if (over()) return;
      if (Date.now() - started > 60_000) cycles = 0;
      await pause(Math.min(10_000, 100 * 2 ** cycles)); // never a tight loop, should pulls keep ending
      await remake();
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        halt.abort();
        offReconnect();
        clearInterval(pollTimer);
        await current?.close();
        await loop;
      })();
      return stopping;
    },
  };
}

function describeChange(log: Logger, ensured: EnsuredDurable): void {
  const { change, startSeq } = ensured;
  if (change === 'unchanged' || change === 'created') return;
  const what = {
    updated: 'durable consumer updated (unlimited server-side deliveries: maxDeliver is counted here)',
    replaced: `durable consumer's filter changed: made again from stream sequence ${startSeq}, after what it had acknowledged`,
    recreated: `durable consumer made again from stream sequence ${startSeq}, after what it had acknowledged`,
  }[change];
  if (change === 'updated') log.info({ change }, what);
  else log.warn({ change, startSeq }, what);
}
