import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, trace } from '@opentelemetry/api';
import { node, tracing } from '@opentelemetry/sdk-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { eventually } from '@mlpipe/common';
import { createPool, migrate, withTransaction } from '@mlpipe/db';
import { createTestBus, createTestDatabase } from '@mlpipe/testing';
import { createOutbox, outboxMigration, startOutboxRelay } from '../src';
import { storedEvents } from './streams';

// A real SDK for this file only (vitest runs each file in its own process), spans kept in memory.
const exporter = new tracing.InMemorySpanExporter();
const provider = new node.NodeTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });

describe('trace context through the outbox', () => {
  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('the relayed publish is a child of the span that enqueued it, though it runs later in another task', async () => {
    const bus = await createTestBus();
    const db = await createTestDatabase();
    const pool = await createPool(db.url);
    await migrate(pool, 'svc', [outboxMigration('001_outbox')]);
    const relay = startOutboxRelay({ pool, bus, schema: 'svc', logger: pino({ level: 'silent' }), metrics: new Registry(), pollMs: 100 });
    try {
      // Given an event enqueued inside a handler's span.
      const parent = trace.getTracer('outbox-test').startSpan('data.batch.validated process');
      await context.with(trace.setSpan(context.active(), parent), () =>
        withTransaction(pool, (c) =>
          createOutbox('svc', 't').enqueue(c, 'model.alias.changed', { modelName: 'mnist', alias: 'champion', version: 1, previousVersion: null, reason: 'r', actor: 'a' }, 'traced'),
        ),
      );
      parent.end();
      // Then the relay's publish span (and the message's traceparent) continue that trace.
      const producer = await eventually(() => exporter.getFinishedSpans().find((s) => s.name === 'model.alias.changed publish'), 10_000, 'the publish span');
      expect(producer.spanContext().traceId).toBe(parent.spanContext().traceId);
      expect(producer.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      const [stored] = await eventually(async () => ((await storedEvents(bus, 'MODEL')).length ? storedEvents(bus, 'MODEL') : undefined));
      expect(stored).toMatchObject({ msgId: 'traced', traceparent: expect.stringContaining(parent.spanContext().traceId) });
    } finally {
      await relay.stop();
      await bus.dispose();
      await pool.end();
      await db.drop();
    }
  });
});
