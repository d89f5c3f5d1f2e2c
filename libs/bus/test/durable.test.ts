import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { eventually } from '@mlpipe/common';
import { pino } from 'pino';
import { createTestBus, validatedBatch, type TestBus } from '@mlpipe/testing';
import { consumeEvents, publishEvent, streamNameOf, subjectOf } from '../src';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes and acks the next `n` messages of a durable by hand, as an older version of a service would have. */
async function ackByHand(bus: TestBus, durable: string, n: number): Promise<string[]> {
  const c = await bus.js.consumers.get(streamNameOf(bus.namespace, 'DATA'), durable);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = await c.next({ expires: 5000 });
    if (!m) throw new Error('expected a message');
    ids.push((m.json() as { data: { batchId: string } }).data.batchId);
    await m.ackAck();
  }
  return ids;
}

describe('durables made by an older version are brought up to date without losing their place', () => {
  let bus: TestBus;
  beforeEach(async () => {
    bus = await createTestBus();
    for (const batchId of ['b1', 'b2', 'b3']) await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId }, { source: 't' });
  });
  afterEach(async () => {
    await bus.dispose();
  });

  const oldDurable = (durable: string, filterType: string) =>
    bus.jsm.consumers.add(streamNameOf(bus.namespace, 'DATA'), {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjectOf(bus.namespace, filterType),
      ack_wait: nanos(30_000),
      max_deliver: 6, // what consumeEvents used to set: maxDeliver + 1
    });

  it('an old max_deliver becomes unlimited on the server; acknowledged messages stay acknowledged', async () => {
    await oldDurable('old', 'data.batch.validated');
    expect(await ackByHand(bus, 'old', 1)).toEqual(['b1']);
    const seen: string[] = [];
    const c = await consumeEvents(bus, { durable: 'old', logger, handlers: { 'data.batch.validated': async (e) => void seen.push(e.data.batchId) } });
    await eventually(() => seen.length === 2, 10_000, 'b2 and b3');
    await sleep(300);
    await c.stop();
    expect(seen).toEqual(['b2', 'b3']);
    const info = await bus.jsm.consumers.info(streamNameOf(bus.namespace, 'DATA'), 'old');
    expect(info.config.max_deliver).toBe(-1);
  });

  it('a changed filter makes the durable again after what it had acknowledged (nats-server 2.9 would skip the rest)', async () => {
    // Given a durable for one type that acknowledged b1 and has b2, b3 still to do
    await oldDurable('widened', 'data.batch.validated');
    expect(await ackByHand(bus, 'widened', 1)).toEqual(['b1']);
    // When the service now handles two types of the stream (so the filter becomes data.>)
    const seen: string[] = [];
    const c = await consumeEvents(bus, {
      durable: 'widened',
      logger,
      handlers: {
        'data.batch.validated': async (e) => void seen.push(e.data.batchId),
        'data.batch.rejected': async () => undefined,
      },
    });
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'b4' }, { source: 't' });
    // Then b2..b4 are handled, once each, and b1 is not again
    await eventually(() => seen.length === 3, 10_000, 'b2, b3 and b4');
    await sleep(300);
    await c.stop();
    expect(seen).toEqual(['b2', 'b3', 'b4']);
    const info = await bus.jsm.consumers.info(streamNameOf(bus.namespace, 'DATA'), 'widened');
    expect(info.config.filter_subject).toBe(subjectOf(bus.namespace, 'data.>'));
  });
});
