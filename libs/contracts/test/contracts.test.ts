import { describe, expect, it } from 'vitest';
import { EVENTS, HyperparamsSchema, parseEnvelope, REQUESTS, SubmitJobRequestSchema } from '../src';
import { validatedBatch } from '@mlpipe/testing';

const envelopeOf = (data: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'data.batch.validated',
  schemaVersion: 2,
  eventId: 'e1',
  occurredAt: new Date().toISOString(),
  source: 'test',
  data,
  ...extra,
});

describe('event contracts', () => {
  it('round-trips a valid envelope through JSON', () => {
    const parsed = parseEnvelope('data.batch.validated', JSON.parse(JSON.stringify(envelopeOf(validatedBatch))));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.envelope.data).toEqual(validatedBatch);
  });

  it('rejects a payload with a wrong field, naming it', () => {
    const parsed = parseEnvelope('data.batch.validated', envelopeOf({ ...validatedBatch, samples: -3 }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(/samples/);
  });

  it('rejects unknown fields (schemas are strict)', () => {
    const parsed = parseEnvelope('data.batch.validated', envelopeOf({ ...validatedBatch, surprise: 1 }));
    expect(parsed.ok).toBe(false);
  });

  it('rejects an unsupported schema version', () => {
    const parsed = parseEnvelope('data.batch.validated', envelopeOf(validatedBatch, { schemaVersion: 3 }));
    expect(parsed).toEqual({ ok: false, reason: expect.stringMatching(/schemaVersion 3/) });
  });

  it('refuses a v1 data.batch.validated (every batch hash inline), saying why: it is dead-lettered', () => {
    const { datasetVersion, ...rest } = validatedBatch;
    const v1 = { ...rest, datasetVersion: { id: datasetVersion.id, dataset: 'mnist', trainBatches: ['a'.repeat(64)], testBatches: [], trainSamples: 100, testSamples: 0 } };
    const parsed = parseEnvelope('data.batch.validated', envelopeOf(v1, { schemaVersion: 1 }));
    expect(parsed).toEqual({ ok: false, reason: 'unsupported schemaVersion 1 for data.batch.validated (expected 2)' });
  });

  it('refuses a dataset version whose manifest key points anywhere but its own manifest', () => {
    const elsewhere = { ...validatedBatch, datasetVersion: { ...validatedBatch.datasetVersion, manifestKey: 'models/mnist/evil.json' } };
    const parsed = parseEnvelope('data.batch.validated', envelopeOf(elsewhere));
    expect(parsed).toEqual({ ok: false, reason: expect.stringMatching(/manifestKey/) });
  });

  it('rejects an envelope of another type', () => {
    const parsed = parseEnvelope('data.batch.rejected', envelopeOf(validatedBatch));
    expect(parsed.ok).toBe(false);
  });

  it('gives every event a stream of the catalogue', () => {
    for (const [type, entry] of Object.entries(EVENTS)) {
      expect(type.split('.')[0]?.toUpperCase()).toBe(entry.stream);
    }
  });
});

describe('request contracts', () => {
  it('fills hyperparameter defaults and refuses nonsense', () => {
    const req = SubmitJobRequestSchema.parse({ hyperparams: { epochs: 3 } });
    expect(req.modelName).toBe('mnist');
    expect(HyperparamsSchema.parse(req.hyperparams).epochs).toBe(3);
    expect(SubmitJobRequestSchema.safeParse({ hyperparams: { epochs: 0 } }).success).toBe(false);
    expect(SubmitJobRequestSchema.safeParse({ modelName: '../etc' }).success).toBe(false);
  });

  it('has a reply schema for every request', () => {
    for (const spec of Object.values(REQUESTS)) expect(spec.reply).toBeDefined();
  });
});
