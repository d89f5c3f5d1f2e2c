import { describe, expect, it } from 'vitest';
import { ReplicaRotation, type Attempt } from '../src/core/replicaRotation';

const replicas = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `r${i}`, healthy: true }));
const noneCould = (reasons: string) => new Error(`none: ${reasons}`);

describe('replica rotation: round robin, retry budget, busy replicas', () => {
  it('goes on past replicas that cannot answer, marks them down, and answers from the next', async () => {
    const rotation = new ReplicaRotation(replicas(3));
    const seen: string[] = [];
    const answer = await rotation.call(async (r): Promise<Attempt<string>> => {
      seen.push(r.name);
      return seen.length < 3 ? { reason: 'refused', timedOut: false } : { answer: r.name };
    }, noneCould);
    expect(new Set(seen).size).toBe(3); // each tried once
    expect(answer).toBe(seen[2]);
    expect(rotation.healthyCount()).toBe(1);
  });

  it('gives up at the second timeout, naming every replica it gave up on', async () => {
    const rotation = new ReplicaRotation(replicas(4));
    let tries = 0;
    await expect(rotation.call(async () => (tries++, { reason: 'slow', timedOut: true }), noneCould)).rejects.toThrow(/^none: r\d: slow; r\d: slow$/);
    expect(tries).toBe(2);
  });

  it('keeps busy replicas in the rotation and, all busy, answers with the soonest retry', async () => {
    const rotation = new ReplicaRotation(replicas(3));
    const retry: Record<string, number> = { r0: 5, r1: 1, r2: Number.POSITIVE_INFINITY };
    const answer = await rotation.call(async (r): Promise<Attempt<string>> => ({ busy: r.name, retryAfterS: retry[r.name]! }), noneCould);
    expect(answer).toBe('r1');
    expect(rotation.healthyCount()).toBe(3);
  });

  it('tries an unhealthy replica only when no healthy one is left', async () => {
    const pool = replicas(2);
    pool[0]!.healthy = false;
    const rotation = new ReplicaRotation(pool);
    const first: string[] = [];
    for (let i = 0; i < 4; i++) await rotation.call(async (r) => (first.push(r.name), { answer: r.name }), noneCould);
    expect(first).toEqual(['r1', 'r1', 'r1', 'r1']);
    pool[1]!.healthy = false;
    expect(await rotation.call(async (r) => ({ answer: r.name }), noneCould)).toMatch(/^r[01]$/);
  });
});
