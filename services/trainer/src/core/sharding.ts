/**
 * How synchronous data parallelism cuts the work: a global step is one global batch of the
 * epoch's seeded order; each member of the group takes a contiguous, nearly equal slice of it,
 * by its position in the member list. Membership may change between steps, never within one.
 */

export interface StepPosition {
  /** 1-based epoch. */
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** True when this step is the last of its epoch. */
  endsEpoch: boolean;
}

export interface SampleRange {
  start: number;
  count: number;
}

export function stepsPerEpoch(samples: number, batchSize: number): number {
  return Math.ceil(samples / batchSize);
}

export function stepPosition(step: number, perEpoch: number): StepPosition {
  const batch = step % perEpoch;
  return { epoch: Math.floor(step / perEpoch) + 1, batch, endsEpoch: batch === perEpoch - 1 };
}

/** The global batch of a step within its epoch's order (the last batch may be short). */
export function batchRange(batch: number, batchSize: number, samples: number): SampleRange {
  const start = batch * batchSize;
  return { start, count: Math.max(0, Math.min(batchSize, samples - start)) };
}

/** Member `rank` of `members`' slice of a global batch; the slices tile the batch exactly. */
export function shardRange(global: SampleRange, rank: number, members: number): SampleRange {
  if (members < 1 || rank < 0 || rank >= members) throw new RangeError(`rank ${rank} is not in a group of ${members}`);
  const from = Math.floor((rank * global.count) / members);
  const to = Math.floor(((rank + 1) * global.count) / members);
  return { start: global.start + from, count: to - from };
}
