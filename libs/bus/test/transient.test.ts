import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { TransientError, ValidationError, eventually } from '@mlpipe/common';
import type { Envelope } from '@mlpipe/contracts';
import { pino } from 'pino';
import { createTestBus, validatedBatch, type TestBus } from '@mlpipe/testing';
import { consumeEvents, listDeadLetters, publishEvent, streamNameOf, subjectOf, type HandlerContext, type RunningConsumer } from '../src';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A pg-like "server is down" error, as a pool throws it during an outage. */
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('transient and permanent failures on real NATS JetStream', () => {
  let bus: TestBus;
  const running: RunningConsumer[] = [];
  beforeEach(async () => {
    bus = await createTestBus();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await bus.dispose();
  });
  const consume = async (opts: Parameters<typeof consumeEvents>[1]) => {
    const c = await consumeEvents(bus, opts);
    running.push(c);
    return c;
  };

  it('makes a message wait through an outage longer than maxDeliver deliveries: handled once, no dead letter', async () => {
    // Given a dependency that is down for the first 8 deliveries, with maxDeliver 3
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const seen: Pick<HandlerContext, 'deliveryCount' | 'attempt'>[] = [];
    let handled = 0;
    await consume({
      durable: 'outage',
      logger,
      maxDeliver: 3,
      backoffMs: () => 30,
      handlers: {
        'data.batch.validated': async (_e, ctx) => {
          seen.push({ deliveryCount: ctx.deliveryCount, attempt: ctx.attempt });
          if (ctx.deliveryCount <= 8) throw new Error('query failed', { cause: refused() });
          handled++;
        },
      },
    });
    // Then it is handled on the 9th, as its first counted attempt
    await eventually(() => handled === 1, 15_000, 'the handled message');
    await sleep(300);
    expect(handled).toBe(1);
    expect(seen.map((s) => s.deliveryCount)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen.every((s) => s.attempt === 1)).toBe(true);
    expect(await listDeadLetters(bus)).toEqual([]);
  });

  it('dead-letters a message still failing transiently once its budget is spent, naming the budget', async () => {
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const dead: string[] = [];
    let tries = 0;
    await consume({
      durable: 'budget',
      logger,
      maxDeliver: 2,
      backoffMs: () => 100,
      transientRetryMs: 500,
      onDeadLetter: (_t, reason) => dead.push(reason),
      handlers: {
        'data.batch.validated': async () => {
          tries++;
          throw new TransientError('database is restarting');
        },
      },
    });
    await eventually(() => dead.length === 1, 15_000, 'the dead letter');
    // 5 waits of 100 ms spend the 500 ms budget; the 6th failure dead-letters.
    expect(tries).toBe(6);
    expect(dead[0]).toBe('data.batch.validated still failing transiently after waiting 500 ms over 6 deliveries (transientRetryMs budget 500 ms): database is restarting');
    const [letter] = await listDeadLetters(bus);
    expect(letter?.record?.reason).toBe(dead[0]);
    expect(letter?.record?.deliveries).toBe(6);
  });

  it('dead-letters a permanent failure on its first delivery, and keeps consuming', async () => {
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'poison' }, { source: 't' });
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'good' }, { source: 't' });
    const calls: string[] = [];
    await consume({
      durable: 'permanent',
      logger,
      backoffMs: () => 30,
      handlers: {
        'data.batch.validated': async (e) => {
          calls.push(e.data.batchId);
          if (e.data.batchId === 'poison') throw new ValidationError('batch poison is unusable', { cause: refused() });
        },
      },
    });
    await eventually(() => calls.includes('good'), 10_000, 'the good batch');
    const letters = await eventually(async () => ((await listDeadLetters(bus)).length ? listDeadLetters(bus) : undefined));
    expect(calls).toEqual(['poison', 'good']);
    expect(letters.map((l) => [l.record?.deliveries, l.record?.reason])).toEqual([[1, 'data.batch.validated failed permanently: batch poison is unusable']]);
  });

  it('counts unknown failures, not the transient ones between them, against maxDeliver', async () => {
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const dead: string[] = [];
    const attempts: number[] = [];
    await consume({
      durable: 'mixed',
      logger,
      maxDeliver: 3,
      backoffMs: () => 30,
      onDeadLetter: (_t, reason) => dead.push(reason),
      handlers: {
        'data.batch.validated': async (_e, ctx) => {
          attempts.push(ctx.attempt);
          // odd deliveries: the database is down; even ones: a bug
          if (ctx.deliveryCount % 2 === 1) throw refused();
          throw new TypeError("Cannot read properties of undefined (reading 'rows')");
        },
      },
    });
    await eventually(() => dead.length === 1, 15_000, 'the dead letter');
    // deliveries 1..6: transient, bug (attempt 1), transient, bug (attempt 2), transient, bug (attempt 3) → dead
    expect(attempts).toEqual([1, 1, 2, 2, 3, 3]);
    expect(dead[0]).toBe("data.batch.validated still failing after 3 deliveries (besides 3 transient): Cannot read properties of undefined (reading 'rows')");
  });

  it('keeps a message’s transient history across consumer processes (the failure ledger)', async () => {
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const attempts: [number, number][] = [];
    const failing = async (_e: unknown, ctx: HandlerContext) => {
      attempts.push([ctx.deliveryCount, ctx.attempt]);
      throw new TransientError('store unreachable');
    };
    // A short ack wait: a delivery the server sends to the first process as it stops (its pull still
    // open) is never handled, and comes back after the ack wait instead of 30 s.
    const first = await consumeEvents(bus, { durable: 'ledger', logger, maxDeliver: 2, backoffMs: () => 30, ackWaitMs: 1000, handlers: { 'data.batch.validated': failing } });
    await eventually(() => attempts.length >= 3, 10_000, 'three failures');
    await first.stop();
    // A second process (a restart, another replica) sees the same delivery count as its first attempt.
    let handledAs: [number, number] | undefined;
    await consume({
      durable: 'ledger',
      logger,
      maxDeliver: 2,
      backoffMs: () => 30,
      ackWaitMs: 1000,
      handlers: { 'data.batch.validated': async (_e, ctx) => void (handledAs = [ctx.deliveryCount, ctx.attempt]) },
    });
    const [deliveryCount, attempt] = await eventually(() => handledAs, 10_000, 'the handled message');
    // Every transient failure is in the ledger, so only deliveries not known to be transient count as
    // attempts: this one, and at most one stranded as the first process stopped. Without the ledger the
    // attempt would be the delivery count, past maxDeliver, and the message dead-lettered.
    expect([attempts.length + 1, attempts.length + 2]).toContain(deliveryCount);
    expect(attempt).toBe(deliveryCount - attempts.length);
    expect(await listDeadLetters(bus)).toEqual([]);
  });

  it('dead-letters, without running it, a message whose deliveries keep ending without a result (a crashing handler)', async () => {
    // Given a message delivered maxDeliver times to a process that died before settling it (the ack wait ran out)
    await bus.jsm.consumers.add(streamNameOf(bus.namespace, 'DATA'), {
      durable_name: 'crashy',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjectOf(bus.namespace, 'data.batch.validated'),
      ack_wait: nanos(1000),
    });
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const raw = await bus.js.consumers.get(streamNameOf(bus.namespace, 'DATA'), 'crashy');
    for (let i = 1; i <= 2; i++) {
      const m = await raw.next({ expires: 5000 });
      expect(m?.info.deliveryCount).toBe(i); // taken and never acked
    }
    // When a consumer with maxDeliver 2 gets it a third time
    const dead: string[] = [];
    const events: string[] = [];
    let ran = 0;
    await consume({
      durable: 'crashy',
      logger,
      maxDeliver: 2,
      ackWaitMs: 1000,
      onDeadLetter: (_t, reason, event) => {
        dead.push(reason);
        if (event?.type === 'data.batch.validated') events.push((event as Envelope<'data.batch.validated'>).data.batchId);
      },
      handlers: { 'data.batch.validated': async () => void ran++ },
    });
    // Then it is dead-lettered before its handler runs, and the callback gets the event to report
    await eventually(() => dead.length === 1, 10_000, 'the dead letter');
    expect(ran).toBe(0);
    expect(dead[0]).toMatch(/^data.batch.validated was delivered 2 times without a result \(maxDeliver 2\)/);
    expect(events).toEqual([validatedBatch.batchId]);
  });
});
