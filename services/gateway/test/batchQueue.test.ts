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
    expect(q.target('m/1')).toBe(4); // the last batch was 9 images: aims at the most a batch may hold
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

  it('at concurrency 1 does not wait: once batches are one image, a lone request is due at once', () => {
    const q = new BatchQueue<string, string>(policy({ maxDelayMs: 5 }));
    // Given a version's first request, with nothing known yet, waiting the delay for company
    expect(q.target('m/1')).toBe(4);
    q.offer('m/1', 'a', 1, 0);
    expect(q.nextDeadline()).toBe(5);
    expect(ids(q.take(5))).toEqual([['a']]);
    expect(q.target('m/1')).toBe(1);
    // When the next one comes alone, it is due now, not 5 ms later
    q.offer('m/1', 'b', 1, 10);
    expect(q.nextDeadline()).toBe(Number.NEGATIVE_INFINITY);
    expect(ids(q.take(10))).toEqual([['b']]);
    // And another version still knows nothing, so it waits
    q.offer('m/2', 'c', 1, 10);
    expect(q.nextDeadline()).toBe(15);
  });

  it('under load waits for as many images as the last batch had, at most the delay, and takes whatever else is there', () => {
    const q = new BatchQueue<string, string>(policy({ maxBatchSize: 8, maxDelayMs: 2 }));
    for (const id of ['a', 'b', 'c']) q.offer('m/1', id, 1, 0);
    expect(ids(q.take(2))).toEqual([['a', 'b', 'c']]);
    expect(q.target('m/1')).toBe(3);
    // Two of three: short of the last batch, so they wait for the third
    q.offer('m/1', 'd', 1, 3);
    q.offer('m/1', 'e', 1, 3.5);
    expect(q.take(4)).toEqual([]);
    expect(q.nextDeadline()).toBe(5);
    // The third arrives: due at once, with a fourth that came in the same turn
    q.offer('m/1', 'f', 1, 4);
    q.offer('m/1', 'g', 1, 4);
    expect(q.nextDeadline()).toBe(Number.NEGATIVE_INFINITY);
    expect(ids(q.take(4))).toEqual([['d', 'e', 'f', 'g']]);
    expect(q.target('m/1')).toBe(4);
    // Load falls: one request waits the delay once, and the next lone request is due at once
    q.offer('m/1', 'h', 1, 10);
    expect(q.take(11.9)).toEqual([]);
    expect(ids(q.take(12))).toEqual([['h']]);
    q.offer('m/1', 'i', 1, 20);
    expect(ids(q.take(20))).toEqual([['i']]);
    // A request of 3 images after it: ready at once too (3 ≥ the target of 1)
    q.offer('m/1', 'j', 3, 30);
    expect(ids(q.take(30))).toEqual([['j']]);
  });

  it('remembers the last batch of the few most recent versions only', () => {
    const q = new BatchQueue<number, string>(policy({ maxDelayMs: 1 }));
    for (let v = 0; v < 20; v++) {
      q.offer(v, `r${v}`, 1, v);
      q.take(v + 1);
    }
    expect(q.target(19)).toBe(1);
    expect(q.target(4)).toBe(1);
    expect(q.target(3)).toBe(4); // 16 remembered, versions 4..19: 3 is forgotten, back to maxBatchSize
  });
});
