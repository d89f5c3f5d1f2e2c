import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '@mlpipe/common';
import { pino } from 'pino';
import { startNatsServer, validatedBatch, type OwnNatsServer } from '@mlpipe/testing';
import { connectBus, consumeEvents, ensureStreams, publishEvent, streamNameOf, type Bus, type RunningConsumer } from '../src';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger whose lines the test can read. */
function recordingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { logger, lines };
}

describe('a consumer carries on when its nats-server restarts or loses the durable (own nats-server)', () => {
  let nats: OwnNatsServer;
  let bus: Bus;
  let consumer: RunningConsumer | undefined;
  let seen: string[];
  let log: ReturnType<typeof recordingLogger>;
  const stream = () => streamNameOf(bus.namespace, 'DATA');
  const publish = (batchId: string) => publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId }, { source: 't', eventId: batchId, retryForMs: 20_000 });
  const handledOnce = async (batchId: string) => {
    await eventually(() => seen.includes(batchId), 30_000, `${batchId} handled`);
    await sleep(500);
    expect(seen.filter((b) => b === batchId)).toEqual([batchId]);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats.dispose();
  });
  beforeEach(async () => {
    bus = await connectBus({ url: nats.url, name: 'recovery-test', namespace: `r${Date.now().toString(36)}` });
    await ensureStreams(bus);
    seen = [];
    log = recordingLogger();
    consumer = await consumeEvents(bus, {
      durable: 'survivor',
      logger: log.logger,
      pullExpiresMs: 2000,
      handlers: { 'data.batch.validated': async (e) => void seen.push(e.data.batchId) },
    });
    await publish('before');
    await handledOnce('before');
  });
  afterEach(async () => {
    await consumer?.stop();
    await bus.close();
  });

  it('(a) restarted with its store kept: a message published after the restart is handled once', async () => {
    await nats.restart({ downMs: 1500 });
    await eventually(() => bus.connection.connected(), 20_000, 'the reconnect');
    await publish('after-restart');
    await handledOnce('after-restart');
    expect(seen).toEqual(['before', 'after-restart']);
  });

  it('(b) durable deleted while running: made again after what it had acknowledged, later messages handled', async () => {
    await bus.jsm.consumers.delete(stream(), 'survivor');
    await eventually(async () => (await bus.jsm.consumers.info(stream(), 'survivor').catch(() => undefined)) !== undefined, 20_000, 'the durable made again');
    await publish('after-delete');
    await handledOnce('after-delete');
    expect(seen).toEqual(['before', 'after-delete']); // "before" not delivered again
    expect(log.lines.some((l) => l.msg === 'the server lost the durable consumer; making it again')).toBe(true);
    expect(log.lines.some((l) => /durable consumer made again from stream sequence 2/.test(l.msg))).toBe(true);
  });

  it('(c) restarted with a wiped store: streams and durable made again, later messages handled', async () => {
    await nats.restart({ wipe: true, downMs: 500 });
    await eventually(async () => (await bus.jsm.consumers.info(stream(), 'survivor').catch(() => undefined)) !== undefined, 30_000, 'stream and durable made again');
    await publish('after-wipe');
    await handledOnce('after-wipe');
    expect(seen).toEqual(['before', 'after-wipe']);
    expect(log.lines.some((l) => /the stream is a new one/.test(l.msg))).toBe(true);
    // every stream of the namespace is back, the dead letters' too
    expect((await bus.jsm.streams.info(streamNameOf(bus.namespace, 'DLQ'))).config.name).toBe(streamNameOf(bus.namespace, 'DLQ'));
  });
});
