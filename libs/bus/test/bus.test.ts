import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { DeadLetterSchema, type Envelope } from '@mlpipe/contracts';
import { TransientError, ValidationError, eventually } from '@mlpipe/common';
import { pino } from 'pino';
import { createTestBus, validatedBatch } from '@mlpipe/testing';
import { consumeEvents, publishEvent, request, serveRequests, subjectOf, streamNameOf } from '../src';

const logger = pino({ level: 'silent' });
type TestBus = Awaited<ReturnType<typeof createTestBus>>;


async function readDeadLetters(bus: TestBus): Promise<unknown[]> {
  const stream = streamNameOf(bus.namespace, 'DLQ');
  const info = await bus.jsm.streams.info(stream);
  const out: unknown[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await bus.jsm.streams.getMessage(stream, { seq });
    if (m) out.push(JSON.parse(new TextDecoder().decode(m.data)));
  }
  return out;
}

describe('bus on real NATS JetStream', () => {
  let bus: TestBus;
  beforeEach(async () => {
    bus = await createTestBus();
  });
  afterEach(async () => {
    await bus.dispose();
  });

  it('publishes, de-duplicates by event id and delivers validated envelopes', async () => {
    const first = await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't', eventId: 'same' });
    const again = await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't', eventId: 'same' });
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    const seen: Envelope<'data.batch.validated'>[] = [];
    const consumer = await consumeEvents(bus, {
      durable: 'c1',
      logger,
      handlers: { 'data.batch.validated': async (e) => void seen.push(e) },
    });
    await eventually(() => (seen.length ? seen : undefined));
    await new Promise((r) => setTimeout(r, 300));
    await consumer.stop();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.data.contentHash).toBe(validatedBatch.contentHash);
  });

  it('refuses to publish an invalid payload', async () => {
    await expect(
      publishEvent(bus, 'data.batch.validated', { ...validatedBatch, samples: 0 }, { source: 't' }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('dead-letters malformed and permanently failing messages with the reason, and keeps consuming', async () => {
    await bus.js.publish(subjectOf(bus.namespace, 'data.batch.validated'), 'not json at all');
    await bus.js.publish(subjectOf(bus.namespace, 'data.batch.validated'), JSON.stringify({ type: 'x' }));
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'poison' }, { source: 't' });
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'good' }, { source: 't' });
    const handled: string[] = [];
    const dead: string[] = [];
    const consumer = await consumeEvents(bus, {
      durable: 'c2',
      logger,
      onDeadLetter: (_t, reason) => dead.push(reason),
      handlers: {
        'data.batch.validated': async (e) => {
          if (e.data.batchId === 'poison') throw new ValidationError('batch poison is unusable');
          handled.push(e.data.batchId);
        },
      },
    });
    await eventually(() => (handled.length === 1 && dead.length === 3 ? true : undefined));
    await consumer.stop();
    const letters = (await readDeadLetters(bus)).map((l) => DeadLetterSchema.parse(l));
    expect(letters.map((l) => l.reason)).toEqual([
      expect.stringMatching(/^not JSON/),
      expect.stringMatching(/^invalid data.batch.validated/),
      expect.stringMatching(/failed permanently: batch poison is unusable/),
    ]);
    expect(letters[0]?.payload).toBe('not json at all');
    expect(handled).toEqual(['good']);
  });

  it('counts every dead letter in mlpipe_dead_letters_total by type and durable, for any consumer given a registry', async () => {
    await bus.js.publish(subjectOf(bus.namespace, 'data.batch.validated'), 'not json');
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'poison' }, { source: 't' });
    await publishEvent(bus, 'data.batch.validated', { ...validatedBatch, batchId: 'good' }, { source: 't' });
    const metrics = new Registry();
    const handled: string[] = [];
    const consumer = await consumeEvents(bus, {
      durable: 'counted',
      logger,
      metrics,
      handlers: {
        'data.batch.validated': async (e) => {
          if (e.data.batchId === 'poison') throw new ValidationError('unusable');
          handled.push(e.data.batchId);
        },
      },
    });
    const counted = async () => (await metrics.getSingleMetric('mlpipe_dead_letters_total')?.get())?.values ?? [];
    const values = await eventually(async () => (handled.length === 1 && (await counted())[0]?.value === 2 ? counted() : undefined));
    await consumer.stop();
    expect(values).toEqual([{ value: 2, labels: { type: 'data.batch.validated', durable: 'counted' } }]);
  });

  it('retries unknown failures (bugs) with backoff, then dead-letters after max deliveries', async () => {
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const attempts: number[] = [];
    const consumer = await consumeEvents(bus, {
      durable: 'c3',
      logger,
      maxDeliver: 3,
      backoffMs: () => 50,
      handlers: {
        'data.batch.validated': async (_e, ctx) => {
          attempts.push(ctx.deliveryCount);
          throw new Error('undefined is not a function');
        },
      },
    });
    const end = Date.now() + 10_000;
    let dlq: unknown[] = [];
    while (Date.now() < end && dlq.length === 0) {
      await new Promise((r) => setTimeout(r, 100));
      dlq = await readDeadLetters(bus);
    }
    await consumer.stop();
    expect(attempts).toEqual([1, 2, 3]);
    expect(DeadLetterSchema.parse(dlq[0]).reason).toMatch(/still failing after 3 deliveries: undefined is not a function/);
  });

  it('stops at once, also right after it started (no pull delivered yet)', async () => {
    const consumer = await consumeEvents(bus, {
      durable: 'quick',
      logger,
      handlers: { 'train.job.started': async () => undefined, 'train.job.failed': async () => undefined },
    });
    const started = Date.now();
    await consumer.stop();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('answers requests with validated replies and typed errors', async () => {
    const sub = serveRequests(
      bus,
      'orchestrator.jobs.get',
      async (req) => {
        throw new ValidationError(`no such thing as ${req.jobId}`);
      },
      logger,
    );
    await expect(request(bus, 'orchestrator.jobs.get', { jobId: 'j-1' })).rejects.toThrow(/no such thing as j-1/);
    await expect(request(bus, 'orchestrator.jobs.get', { jobId: '../x' } as never)).rejects.toBeInstanceOf(ValidationError);
    sub.unsubscribe();
    await expect(request(bus, 'orchestrator.jobs.get', { jobId: 'j-1' }, 300)).rejects.toBeInstanceOf(TransientError);
  });
});
