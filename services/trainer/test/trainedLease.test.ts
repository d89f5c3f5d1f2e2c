import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBus, type TestBus } from '@mlpipe/testing';
import { createLogger } from '@mlpipe/runtime';
import { CoordinatorLease, readLease, trainedByAnother } from '../src/adapters/coordinatorLease';

/**
 * A job's lease after its group trained every step (real NATS). The coordinator finishes the job
 * (scoring, storing, announcing) after it lets the lease go; a delivery of the job message handed
 * out again meanwhile (a consumer's new leader after a partition) used to find the key deleted,
 * take it, and train the job a second time from its last checkpoint (two attempts, the second
 * one superfluous). Now the key is left marked `trained` until the TTL removes it.
 */
const logger = createLogger('trained-lease', (process.env.DP_LOG as 'silent') ?? 'silent');
const TTL = { ttlMs: 1500 };

describe('the lease of a job its group trained (real NATS)', () => {
  let bus: TestBus;
  beforeAll(async () => {
    bus = await createTestBus();
  });
  afterAll(() => bus.dispose());

  it('given a trained job, another delivery sees it and cannot take the lease until the TTL frees it', async () => {
    const jobId = `trained-${Date.now()}`;
    const first = new CoordinatorLease(bus, jobId, TTL, logger);
    await first.acquire('a', 1, 'g-a', 0);
    // When the group has trained every step, the lease is released as trained.
    await first.release({ trained: true });

    // Then a later delivery (another attempt) learns the job needs nothing more; its own attempt does not count.
    expect((await trainedByAnother(bus, jobId, TTL, 2))?.holder).toBe('a');
    expect(await trainedByAnother(bus, jobId, TTL, 1)).toBeUndefined();
    // A coordinator of that delivery is refused at once, not after waiting out its wait.
    const second = new CoordinatorLease(bus, jobId, TTL, logger);
    const askedAt = Date.now();
    await expect(second.acquire('b', 2, 'g-b', 60_000)).rejects.toThrow(/was trained by a \(attempt 1\)/);
    expect(Date.now() - askedAt, 'refused on the first look, not at the deadline').toBeLessThan(30_000);
    // The mark is not kept for ever: a TTL later the key is gone.
    await expect.poll(() => readLease(bus, jobId, TTL), { timeout: 15_000, interval: 250 }).toBeUndefined();
  }, 60_000);

  it('given a group that did not finish, the lease is deleted and a successor takes it at once', async () => {
    const jobId = `untrained-${Date.now()}`;
    const first = new CoordinatorLease(bus, jobId, TTL, logger);
    await first.acquire('a', 1, 'g-a', 0);
    await first.release();
    expect(await readLease(bus, jobId, TTL)).toBeUndefined();
    expect(await trainedByAnother(bus, jobId, TTL, 2)).toBeUndefined();
    const second = new CoordinatorLease(bus, jobId, TTL, logger);
    await expect(second.acquire('b', 2, 'g-b', 0)).resolves.toBeGreaterThan(0);
    await second.release();
  }, 30_000);
});
