import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '@mlpipe/common';
import { pino } from 'pino';
import { createTestBus, validatedBatch, type TestBus } from '@mlpipe/testing';
import { consumeEvents, listDeadLetters, publishEvent, SupersededDelivery, type RunningConsumer } from '../src';

const logger = pino({ level: 'silent' });

describe('a superseded delivery (its work taken over by another delivery of the message)', () => {
  let bus: TestBus;
  let consumer: RunningConsumer | undefined;
  beforeEach(async () => void (bus = await createTestBus()));
  afterEach(async () => {
    await consumer?.stop();
    await bus.dispose();
  });

  it('is neither acked nor nak\'d: the message comes back only after the ack wait, and is not dead-lettered', async () => {
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const deliveries: { count: number; at: number }[] = [];
    consumer = await consumeEvents(bus, {
      durable: 'superseded',
      logger,
      ackWaitMs: 1500,
      maxDeliver: 3,
      backoffMs: () => 0,
      handlers: {
        'data.batch.validated': async (_e, ctx) => {
          deliveries.push({ count: ctx.deliveryCount, at: Date.now() });
          if (ctx.deliveryCount === 1) throw new SupersededDelivery('fenced by a newer coordinator');
        },
      },
    });
    await eventually(() => deliveries.length >= 2 || undefined, 10_000, 'the redelivery after the ack wait');
    // A nak (delay 0) would have brought it back at once; left alone it waits out the ack wait.
    expect(deliveries[1]!.at - deliveries[0]!.at).toBeGreaterThanOrEqual(1300);
    await new Promise((r) => setTimeout(r, 2500));
    expect(deliveries).toHaveLength(2); // acked by the second
    expect(await listDeadLetters(bus)).toHaveLength(0);
  }, 30_000);
});
