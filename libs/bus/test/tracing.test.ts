import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { node, tracing } from '@opentelemetry/sdk-node';
import { ValidationError, eventually } from '@mlpipe/common';
import { pino } from 'pino';
import {
  buildEnvelope,
  consumeEvents,
  publishEvent,
  request,
  serveRequests,
  subjectOf,
  subscribeEvents,
} from '../src';
import { createTestBus, validatedBatch } from '@mlpipe/testing';

const logger = pino({ level: 'silent' });
type TestBus = Awaited<ReturnType<typeof createTestBus>>;
type FinishedSpan = tracing.ReadableSpan;

// A real SDK for this file only (vitest runs each file in its own process): AsyncLocalStorage
// context manager and the W3C trace-context propagator, spans kept in memory.
const exporter = new tracing.InMemorySpanExporter();
const provider = new node.NodeTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
const tracer = () => trace.getTracer('bus-tracing-test');

function spanNamed(name: string, pick: (s: FinishedSpan) => boolean = () => true): Promise<FinishedSpan> {
  return eventually(() => exporter.getFinishedSpans().find((s) => s.name === name && pick(s)), 10_000, `span "${name}"`);
}

describe('trace context across NATS', () => {
  let bus: TestBus;
  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  beforeEach(async () => {
    exporter.reset();
    bus = await createTestBus();
  });
  afterEach(async () => {
    await bus.dispose();
  });

  it('makes the consumer span a child of the publisher span, in the same trace', async () => {
    // given a publish inside a parent span
    const parent = tracer().startSpan('upload');
    const published = await context.with(trace.setSpan(context.active(), parent), () =>
      publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' }),
    );
    parent.end();
    // when a durable consumer handles it
    let activeInHandler: string | undefined;
    const consumer = await consumeEvents(bus, {
      durable: 'traced',
      logger,
      handlers: { 'data.batch.validated': async () => void (activeInHandler = trace.getActiveSpan()?.spanContext().spanId) },
    });
    const consumed = await spanNamed('data.batch.validated process');
    await consumer.stop();
    // then one trace: upload -> publish -> process, and the handler ran inside the process span
    const producer = await spanNamed('data.batch.validated publish');
    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(producer.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(producer.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(consumed.kind).toBe(SpanKind.CONSUMER);
    expect(consumed.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(consumed.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(activeInHandler).toBe(consumed.spanContext().spanId);
    const subject = subjectOf(bus.namespace, 'data.batch.validated');
    for (const span of [producer, consumed]) {
      expect(span.attributes).toMatchObject({
        'messaging.system': 'nats',
        'messaging.destination.name': subject,
        'messaging.message.id': published.envelope.eventId,
      });
    }
    expect(consumed.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('starts a new trace for a message that carries no trace context', async () => {
    // given a message published outside any span and without headers, and a consumer started inside a span
    const envelope = buildEnvelope('data.batch.validated', validatedBatch, { source: 't' });
    await bus.js.publish(subjectOf(bus.namespace, 'data.batch.validated'), JSON.stringify(envelope), { msgID: envelope.eventId });
    const ambient = tracer().startSpan('consumer start-up');
    const consumer = await context.with(trace.setSpan(context.active(), ambient), () =>
      consumeEvents(bus, { durable: 'untraced', logger, handlers: { 'data.batch.validated': async () => undefined } }),
    );
    ambient.end();
    // when it is handled
    const consumed = await spanNamed('data.batch.validated process');
    await consumer.stop();
    // then its span is a root of a trace of its own, not a child of whatever was active around the loop
    expect(consumed.parentSpanContext).toBeUndefined();
    expect(consumed.spanContext().traceId).not.toBe(ambient.spanContext().traceId);
  });

  it('records the exception and marks the consumer span failed when a handler throws', async () => {
    await publishEvent(bus, 'data.batch.validated', validatedBatch, { source: 't' });
    const consumer = await consumeEvents(bus, {
      durable: 'failing',
      logger,
      handlers: {
        'data.batch.validated': async () => {
          throw new ValidationError('dataset is gone');
        },
      },
    });
    const consumed = await spanNamed('data.batch.validated process');
    await consumer.stop();
    expect(consumed.status.code).toBe(SpanStatusCode.ERROR);
    expect(consumed.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe('dataset is gone');
  });

  it('traces live subscriptions the same way', async () => {
    let activeInHandler: string | undefined;
    const sub = subscribeEvents(
      bus,
      'train.job.cancel-requested',
      () => void (activeInHandler = trace.getActiveSpan()?.spanContext().spanId),
      logger,
    );
    await bus.nc.flush(); // the subscription is on the server before the publish
    await publishEvent(bus, 'train.job.cancel-requested', { jobId: 'j-1', reason: 'test' }, { source: 't' });
    const received = await spanNamed('train.job.cancel-requested process');
    const producer = await spanNamed('train.job.cancel-requested publish');
    sub.unsubscribe();
    expect(received.kind).toBe(SpanKind.CONSUMER);
    expect(received.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(activeInHandler).toBe(received.spanContext().spanId);
  });

  it('makes the server span of a request a child of the client span', async () => {
    const sub = serveRequests(bus, 'orchestrator.jobs.list', async () => ({ jobs: [] }), logger);
    const parent = tracer().startSpan('http request');
    await context.with(trace.setSpan(context.active(), parent), () => request(bus, 'orchestrator.jobs.list', {}));
    parent.end();
    const served = await spanNamed('orchestrator.jobs.list process');
    const client = await spanNamed('orchestrator.jobs.list request');
    sub.unsubscribe();
    expect(client.kind).toBe(SpanKind.CLIENT);
    expect(client.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(served.kind).toBe(SpanKind.SERVER);
    expect(served.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(served.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(served.attributes['messaging.destination.name']).toBe(subjectOf(bus.namespace, 'orchestrator.jobs.list'));
  });

  it('marks both ends of a request failed when the handler throws', async () => {
    const sub = serveRequests(
      bus,
      'orchestrator.jobs.get',
      async () => {
        throw new ValidationError('no such job');
      },
      logger,
    );
    await expect(request(bus, 'orchestrator.jobs.get', { jobId: 'j-1' })).rejects.toThrow(/no such job/);
    const served = await spanNamed('orchestrator.jobs.get process');
    const client = await spanNamed('orchestrator.jobs.get request');
    sub.unsubscribe();
    expect(served.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(served.status.code).toBe(SpanStatusCode.ERROR);
    expect(client.status.code).toBe(SpanStatusCode.ERROR);
  });
});
