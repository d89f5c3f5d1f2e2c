import { describe, expect, it } from 'vitest';
import { BatchQueue, type BatchPolicy } from '../src/core/batchQueue';

const policy = (p: Partial<BatchPolicy> = {}): BatchPolicy => ({ maxBatchSize: 4, maxDelayMs: 2, maxQueue: 10, ...p });
const ids = (batches: { requests: { item: string }[] }[]) => batches.map((b) => b.requests.map((r) => r.item));

describe('the dynamic batching policy', () => {
  it('holds a partial batch until its oldest request has waited the delay, then runs it whole', () => {
    const q = new BatchQueue<string, string>(policy());
    q.offer('m/1', 'a', 1, 100);
    q.offer('m/1', 'b', 1, 101);
    expect(q.take(101.9)).toEqual([]);
    expect(q.nextDeadline()).toBe(102);
    const batches = q.take(102);
    expect(ids(batches)).toEqual([['a', 'b']]);
    expect(batches[0]?.size).toBe(2);
    expect(q.waiting).toBe(0);
    expect(q.nextDeadline()).toBeUndefined();
  });

  it('runs a full batch at once, never more than maxBatchSize images, and keeps the rest for their own delay', () => {
    const q = new BatchQueue<string, string>(policy());
    for (const [i, id] of ['a', 'b', 'c', 'd', 'e', 'f'].entries()) q.offer('m/1', id, 1, 100 + i * 0.1);
    expect(q.nextDeadline()).toBe(Number.NEGATIVE_INFINITY); // full: due now
    expect(ids(q.take(100.5))).toEqual([['a', 'b', 'c', 'd']]);
    expect(q.waiting).toBe(2);
    expect(q.nextDeadline()).toBeCloseTo(102.4); // e's arrival + 2 ms
    expect(q.take(102.3)).toEqual([]);
    expect(ids(q.take(102.4))).toEqual([['e', 'f']]);
  });

  it('counts images, not requests, and runs a request larger than maxBatchSize alone, unsplit', () => {
    const q = new BatchQueue<string, string>(policy());
    q.offer('m/1', 'three', 3, 0);
    q.offer('m/1', 'two', 2, 0);
    q.offer('m/1', 'nine', 9, 0);
    q.offer('m/1', 'one', 1, 0);
    const batches = q.take(0);
    expect(ids(batches)).toEqual([['three'], ['two'], ['nine']]);
    expect(batches.map((b) => b.size)).toEqual([3, 2, 9]);
    expect(ids(q.take(2))).toEqual([['one']]);
  });

  it('batches each model version apart', () => {
    const q = new BatchQueue<string, string>(policy());
    q.offer('m/1', 'a', 1, 0);
    q.offer('m/2', 'b', 1, 1);
    q.offer('m/1', 'c', 1, 1);
    expect(q.nextDeadline()).toBe(2);
    expect(ids(q.take(2))).toEqual([['a', 'c']]);
    expect(ids(q.take(3))).toEqual([['b']]);
  });

  it('refuses past maxQueue waiting requests, with the reason, and accepts again once a batch is taken', () => {
    const q = new BatchQueue<string, string>(policy({ maxQueue: 2, maxBatchSize: 8 }));
    expect(q.offer('m/1', 'a', 1, 0)).toEqual({ accepted: true });
    expect(q.offer('m/2', 'b', 1, 0)).toEqual({ accepted: true });
    const refused = q.offer('m/1', 'c', 1, 0);
    expect(refused.accepted).toBe(false);
    expect(!refused.accepted && refused.reason).toMatch(/2 requests are waiting.*GATEWAY_BATCH_MAX_QUEUE=2/);
    expect(q.waiting).toBe(2);
    q.take(2);
    expect(q.offer('m/1', 'c', 1, 3)).toEqual({ accepted: true });
  });

  it('flushes everything on demand, whatever the time, and with delay 0 runs what arrived together', () => {
    const q = new BatchQueue<string, string>(policy({ maxDelayMs: 1000 }));
    q.offer('m/1', 'a', 1, 0);
    q.offer('m/2', 'b', 1, 0);
    expect(ids(q.takeAll())).toEqual([['a'], ['b']]);
    const now = new BatchQueue<string, string>(policy({ maxDelayMs: 0 }));
    now.offer('m/1', 'a', 1, 5);
    now.offer('m/1', 'b', 1, 5);
    expect(ids(now.take(5))).toEqual([['a', 'b']]);
  });

  it('rejects a policy that could never run a batch', () => {
    expect(() => new BatchQueue(policy({ maxBatchSize: 0 }))).toThrow(/invalid batch policy/);
    expect(() => new BatchQueue(policy({ maxQueue: 0 }))).toThrow(/invalid batch policy/);
    expect(() => new BatchQueue(policy({ maxDelayMs: -1 }))).toThrow(/invalid batch policy/);
  });
});
