import { describe, expect, it } from 'vitest';
import { EVENTS, HyperparamsSchema, parseEnvelope, REQUESTS, SubmitJobRequestSchema } from '../src';
import { validatedBatch } from '@mlpipe/testing';

const envelopeOf = (data: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'data.batch.validated',
  schemaVersion: 1,
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
    const parsed = parseEnvelope('data.batch.validated', envelopeOf(validatedBatch, { schemaVersion: 2 }));
    expect(parsed).toEqual({ ok: false, reason: expect.stringMatching(/schemaVersion 2/) });
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
