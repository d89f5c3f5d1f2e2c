import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '@mlpipe/common';
import { pino } from 'pino';
import { createTestBus, validatedBatch, type TestBus } from '@mlpipe/testing';
import { connectBus, consumeEvents, publishEvent, type Bus, type RunningConsumer } from '../src';

const logger = pino({ level: 'silent' });

describe('competing consumers of one durable, one message at a time each', () => {
  let bus: TestBus;
  let other: Bus;
  const running: RunningConsumer[] = [];
  beforeEach(async () => {
    bus = await createTestBus();
    other = await connectBus({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'b', namespace: bus.namespace });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await other.close();
    await bus.dispose();
  });

  it('holds no second message while busy with a long handler: the next goes to the first replica that is free', async () => {
    const handled: { by: string; id: string; at: number }[] = [];
    let release: () => void = () => undefined;
    const busy = new Promise<void>((r) => (release = r));
    const replica = (b: Bus, name: string) =>
      consumeEvents(b, {
        durable: 'jobs',
        logger,
        ackWaitMs: 30_000,
        pullExpiresMs: 1000,
        handlers: {
          'data.batch.validated': async (e) => {
            handled.push({ by: name, id: e.eventId, at: Date.now() });
            if (e.eventId === 'long') await busy;
          },
        },
      });
    running.push(await replica(bus, 'a'));
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't', eventId: 'long' });
    await eventually(() => handled.some((h) => h.id === 'long') || undefined, 10_000);
    // The next message comes while a is busy and before any other replica is there: a busy replica
    // must not take it (it could not start it), so the first free one gets it at once.
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't', eventId: 'next' });
    await new Promise((r) => setTimeout(r, 3000));
    const sent = Date.now();
    running.push(await replica(other, 'b'));
    const next = await eventually(() => handled.find((h) => h.id === 'next'), 10_000, 'the next message to be handled').finally(release);
    expect(next.by).toBe('b');
    expect(next.at - sent).toBeLessThan(3000);
  }, 30_000);
});
