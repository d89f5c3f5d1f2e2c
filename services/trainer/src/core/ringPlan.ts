/**
 * The plan of a ring all-reduce (reduce-scatter, then all-gather) over N members in the order of
 * the group's member list: the flat gradient is cut into N contiguous chunks, and in each of the
 * 2(N-1) steps every rank sends one chunk to its right neighbour and receives one from its left.
 * Each link carries 2(N-1)/N of a gradient per exchange, whatever N is; coordinator-reduce puts
 * N-1 gradients through the coordinator's link. Pure: no I/O, shared by the NATS adapter and the
 * in-memory simulation of the tests.
 */

export interface RingChunk {
  index: number;
  start: number;
  end: number;
}

export type RingPhase = 'reduce-scatter' | 'all-gather';

export interface RingStep {
  /** 0 … 2(N-1)-1: the first N-1 reduce-scatter, the rest all-gather. */
  step: number;
  phase: RingPhase;
  /** The chunk this rank sends to its right neighbour at this step. */
  send: number;
  /** The chunk it receives from its left neighbour: added to its own (reduce-scatter) or kept (all-gather). */
  receive: number;
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

/** N contiguous chunks covering [0, length): the first `length % n` one value longer (some may be empty). */
export function ringChunks(length: number, n: number): RingChunk[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`a ring needs at least one member, got ${n}`);
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`a gradient length is a natural number, got ${length}`);
  const base = Math.floor(length / n);
  const longer = length % n;
  const chunks: RingChunk[] = [];
  let start = 0;
  for (let index = 0; index < n; index++) {
    const end = start + base + (index < longer ? 1 : 0);
    chunks.push({ index, start, end });
    start = end;
  }
  return chunks;
}

export const ringStepCount = (n: number): number => 2 * (n - 1);

/**
 * Rank r sends chunk r-t at reduce-scatter step t (its own at t=0, then what it just summed) and
 * receives chunk r-t-1, so after N-1 steps it holds the full sum of chunk r+1, the chunk it owns;
 * in the all-gather it passes the owned sums around, sending r+1-t and keeping r-t.
 */
export function ringSteps(rank: number, n: number): RingStep[] {
  if (!Number.isInteger(rank) || rank < 0 || rank >= n) throw new RangeError(`rank ${rank} is not in a ring of ${n}`);
  const steps: RingStep[] = [];
  for (let t = 0; t < n - 1; t++) steps.push({ step: t, phase: 'reduce-scatter', send: mod(rank - t, n), receive: mod(rank - t - 1, n) });
  for (let t = 0; t < n - 1; t++) steps.push({ step: n - 1 + t, phase: 'all-gather', send: mod(rank + 1 - t, n), receive: mod(rank - t, n) });
  return steps;
}

/** The chunk whose full sum this rank computes (and is the only one to compute). */
export const ownedChunk = (rank: number, n: number): number => mod(rank + 1, n);

export function ringNeighbours<T>(members: readonly T[], rank: number): { left: T; right: T } {
  const n = members.length;
  return { left: members[mod(rank - 1, n)] as T, right: members[mod(rank + 1, n)] as T };
}
