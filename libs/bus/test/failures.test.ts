import { describe, expect, it } from 'vitest';
import { ConfigError, ConflictError, NotFoundError, TransientError, ValidationError, isTransient } from '@mlpipe/common';
import { NO_TRANSIENT_HISTORY, attemptOf, classifyFailure, decideFailure, unsettledTooOften, type RetryPolicy } from '../src/failures';

/** An error shaped like the ones pg, Node's net, minio and nats.js throw (without importing them). */
const shaped = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

describe('isTransient: a dependency down or overloaded, worth waiting for', () => {
  it('knows TransientError, also as the cause of a foreign error', () => {
    expect(isTransient(new TransientError('database is restarting'))).toBe(true);
    expect(isTransient(new Error('saving failed', { cause: new TransientError('store unreachable') }))).toBe(true);
  });

  it('knows Node network errors by code, directly, as a cause, and inside an AggregateError', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']) {
      expect(isTransient(shaped(`connect ${code} 127.0.0.1:5432`, { code })), code).toBe(true);
    }
    const refused = new AggregateError([shaped('connect ECONNREFUSED ::1:5432', { code: 'ECONNREFUSED' }), shaped('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' })]);
    expect(isTransient(refused)).toBe(true);
    expect(isTransient(new Error('query failed', { cause: new Error('socket', { cause: refused }) }))).toBe(true);
    expect(isTransient(shaped('no such file', { code: 'ENOENT' }))).toBe(false);
    expect(isTransient(shaped('permission denied', { code: 'EACCES' }))).toBe(false);
  });

  it('knows PostgreSQL SQLSTATEs of connections, resources, shutdowns and rerunnable transactions', () => {
    for (const code of ['08000', '08001', '08003', '08006', '57P01', '57P02', '57P03', '53000', '53100', '53200', '53300', '40001', '40P01']) {
      expect(isTransient(shaped(`pg error ${code}`, { code, severity: 'FATAL' })), code).toBe(true);
    }
    for (const code of ['23505', '23503', '42P01', '42703', '22P02', '57014']) {
      expect(isTransient(shaped(`pg error ${code}`, { code, severity: 'ERROR' })), code).toBe(false);
    }
  });

  it("knows pg pool's messages for a connection it cannot get or lost", () => {
    expect(isTransient(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isTransient(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransient(new Error('Connection terminated due to connection timeout'))).toBe(true);
    expect(isTransient(new Error('the database system is starting up'))).toBe(true);
    expect(isTransient(new Error('relation "jobs" does not exist'))).toBe(false);
  });

  it('knows object-store throttling and 5xx, not its 4xx', () => {
    for (const code of ['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout']) expect(isTransient(shaped(code, { code })), code).toBe(true);
    expect(isTransient(shaped('bad gateway', { statusCode: 502 }))).toBe(true);
    expect(isTransient(shaped('too many requests', { statusCode: 429 }))).toBe(true);
    expect(isTransient(shaped('Access Denied', { code: 'AccessDenied', statusCode: 403 }))).toBe(false);
    expect(isTransient(shaped('The specified key does not exist.', { code: 'NoSuchKey', statusCode: 404 }))).toBe(false);
  });

  it('knows NATS timeouts, lost connections and a JetStream that is not there yet', () => {
    for (const name of ['TimeoutError', 'ConnectionError', 'NoResponders', 'ClosedConnectionError', 'JetStreamNotEnabled']) {
      expect(isTransient(shaped('nats', { name })), name).toBe(true);
    }
    expect(isTransient(shaped('JetStream system temporarily unavailable', { name: 'JetStreamApiError', status: 503 }))).toBe(true);
    expect(isTransient(shaped('stream not found', { name: 'StreamNotFoundError', status: 404 }))).toBe(false);
  });

  it('never calls a permanent class transient, whatever its cause; plain bugs are not transient', () => {
    const refused = shaped('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
    expect(isTransient(new ValidationError('bad batch', { cause: refused }))).toBe(false);
    expect(isTransient(new NotFoundError('no dataset', { cause: refused }))).toBe(false);
    expect(isTransient(new ConflictError('already there', { cause: refused }))).toBe(false);
    expect(isTransient(new ConfigError('bad config', { cause: refused }))).toBe(false);
    expect(isTransient(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
    expect(isTransient('a string')).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  it('survives a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    expect(isTransient(a)).toBe(false);
  });
});

describe('decideFailure', () => {
  const policy: RetryPolicy = { maxDeliver: 3, transientRetryMs: 10_000, backoffMs: (n) => 1000 * n };
  const decide = (kind: 'permanent' | 'transient' | 'unknown', attempt: number, history = NO_TRANSIENT_HISTORY) =>
    decideFailure({ type: 'data.batch.validated', kind, reason: 'boom', attempt, history, policy });

  it('classifies permanent, transient and unknown failures', () => {
    expect(classifyFailure(new ValidationError('x'))).toBe('permanent');
    expect(classifyFailure(new TransientError('x'))).toBe('transient');
    expect(classifyFailure(new Error('x'))).toBe('unknown');
  });

  it('dead-letters a permanent failure on its first delivery', () => {
    expect(decide('permanent', 1)).toEqual({ action: 'dead-letter', reason: 'data.batch.validated failed permanently: boom' });
  });

  it('retries a transient failure with growing delays, adding them up, until the budget is spent', () => {
    let history = NO_TRANSIENT_HISTORY;
    const delays: number[] = [];
    for (;;) {
      const d = decide('transient', 1, history);
      if (d.action === 'dead-letter') {
        expect(d.reason).toBe('data.batch.validated still failing transiently after waiting 10 s over 5 deliveries (transientRetryMs budget 10 s): boom');
        break;
      }
      delays.push(d.delayMs);
      history = d.history;
    }
    expect(delays).toEqual([1000, 2000, 3000, 4000]);
    expect(history).toEqual({ failures: 4, waitedMs: 10_000 });
  });

  it('counts only deliveries that were not transient failures against maxDeliver', () => {
    const afterOutage = { failures: 7, waitedMs: 5000 };
    expect(attemptOf(9, afterOutage)).toBe(2);
    expect(attemptOf(1, NO_TRANSIENT_HISTORY)).toBe(1);
    expect(decide('unknown', 2, afterOutage)).toEqual({ action: 'retry', delayMs: 2000, history: afterOutage });
    expect(decide('unknown', 3, afterOutage)).toEqual({ action: 'dead-letter', reason: 'data.batch.validated still failing after 3 deliveries (besides 7 transient): boom' });
  });

  it('refuses to run a message whose counted deliveries all ended without a result', () => {
    expect(unsettledTooOften('train.job.requested', 3, policy)).toBeUndefined();
    expect(unsettledTooOften('train.job.requested', 4, policy)).toMatch(/^train.job.requested was delivered 3 times without a result \(maxDeliver 3\)/);
  });
});
