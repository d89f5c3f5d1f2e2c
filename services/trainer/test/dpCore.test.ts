import { describe, expect, it } from 'vitest';
import { decodeGradient, encodeDense, meanOfSums, TopKCompressor } from '../src/core/gradientCodec';
import { decodeFrame, encodeFrames, Reassembler } from '../src/core/frames';
import { Membership, StepRound, type GradientReport } from '../src/core/group';
import { batchRange, shardRange, stepPosition, stepsPerEpoch } from '../src/core/sharding';

const grad = (values: number[]) => Float32Array.from(values);
const report = (member: string, step: number, round: number, values: number[], count = 2): GradientReport => ({
  member,
  step,
  round,
  count,
  lossSum: count,
  correct: 1,
  gradSum: grad(values),
});

describe('sharding', () => {
  it('tiles every global batch exactly, for any group size', () => {
    for (const members of [1, 2, 3, 5, 7]) {
      for (const count of [0, 1, 6, 64, 65]) {
        const global = { start: 128, count };
        const shards = Array.from({ length: members }, (_, r) => shardRange(global, r, members));
        expect(shards.reduce((n, s) => n + s.count, 0)).toBe(count);
        shards.forEach((s, r) => expect(s.start).toBe(r === 0 ? 128 : (shards[r - 1]!.start + shards[r - 1]!.count)));
        expect(Math.max(...shards.map((s) => s.count)) - Math.min(...shards.map((s) => s.count))).toBeLessThanOrEqual(1);
      }
    }
    expect(() => shardRange({ start: 0, count: 4 }, 2, 2)).toThrow(/rank 2/);
  });

  it('maps global steps to epochs and batches, with a short last batch', () => {
    expect(stepsPerEpoch(100, 32)).toBe(4);
    expect(stepPosition(3, 4)).toEqual({ epoch: 1, batch: 3, endsEpoch: true });
    expect(stepPosition(4, 4)).toEqual({ epoch: 2, batch: 0, endsEpoch: false });
    expect(batchRange(3, 32, 100)).toEqual({ start: 96, count: 4 });
  });
});

describe('the reduction', () => {
  it('is exactly the mean over all samples (float64 sum, one rounding)', () => {
    const a = grad([0.1, -3, 1e-8, 7]);
    const b = grad([0.2, 3, 1e-8, -1]);
    const c = grad([0.3, 1, 2e-8, 0.5]);
    const mean = meanOfSums([a, b, c], 6);
    for (let i = 0; i < 4; i++) expect(mean[i]).toBe(Math.fround(((a[i] as number) + (b[i] as number) + (c[i] as number)) / 6));
    expect(() => meanOfSums([a, grad([1])], 2)).toThrow(/lengths differ/);
  });

  it('counts each member once per round: duplicates, stale rounds, future steps and strangers are ignored', () => {
    const round = new StepRound(5, 2, ['a', 'b']);
    expect(round.receive(report('a', 5, 2, [2, 4]))).toBe('accepted');
    expect(round.receive(report('a', 5, 2, [100, 100]))).toBe('duplicate');
    expect(round.receive(report('b', 5, 1, [100, 100]))).toBe('stale');
    expect(round.receive(report('b', 4, 9, [100, 100]))).toBe('stale');
    expect(round.receive(report('b', 6, 2, [100, 100]))).toBe('ahead');
    expect(round.receive(report('z', 5, 2, [100, 100]))).toBe('stranger');
    expect(round.complete()).toBe(false);
    expect(round.missing()).toEqual(['b']);
    expect(() => round.reduce()).toThrow(/waits for b/);
    expect(round.receive(report('b', 5, 2, [6, 8]))).toBe('accepted');
    const r = round.reduce();
    expect(Array.from(r.mean!)).toEqual([2, 3]);
    expect(r.count).toBe(4);
  });
});

describe('a ring round', () => {
  const ringReport = (member: string): GradientReport => ({ member, step: 5, round: 2, count: 2, lossSum: 1, correct: 1 });

  it('completes on every member\'s ring report and leaves the mean to the members', () => {
    const round = new StepRound(5, 2, ['a', 'b']);
    expect(round.receive(ringReport('a'))).toBe('accepted');
    expect(round.receive(ringReport('a'))).toBe('duplicate');
    expect(round.complete()).toBe(false);
    expect(round.receive(ringReport('b'))).toBe('accepted');
    const r = round.reduce();
    expect(r.mean).toBeUndefined();
    expect(r).toMatchObject({ round: 2, count: 4, lossSum: 2, correct: 2 });
  });

  it('falls back once a member sends its gradient: every ring report must be replaced by the gradient', () => {
    const round = new StepRound(5, 2, ['a', 'b', 'c']);
    round.receive(ringReport('a'));
    expect(round.fellBack).toBe(false);
    expect(round.receive(report('b', 5, 2, [2, 4]))).toBe('accepted');
    expect(round.fellBack).toBe(true);
    expect(round.ringOnly()).toEqual(['a']);
    expect(round.missing()).toEqual(['a', 'c']);
    expect(round.receive(ringReport('c'))).toBe('accepted');
    expect(round.missing()).toEqual(['a', 'c']);
    expect(round.receive(report('a', 5, 2, [6, 8]))).toBe('accepted');
    expect(round.receive(report('a', 5, 2, [100, 100]))).toBe('duplicate');
    expect(round.receive(report('c', 5, 2, [1, 0]))).toBe('accepted');
    expect(round.complete()).toBe(true);
    expect(Array.from(round.reduce().mean!)).toEqual([Math.fround(9 / 6), 2]);
  });
});

describe('membership', () => {
  it('admits joiners at a boundary, drops the silent, and re-queues a re-joining member at the end', () => {
    const m = new Membership();
    m.requestJoin('a', 0);
    m.requestJoin('b', 0);
    expect(m.current()).toEqual([]);
    expect(m.admitWaiting()).toEqual(['a', 'b']);
    m.seen('a', 5000);
    expect(m.silent(6000, 3000)).toEqual(['b']);
    expect(m.drop('b', 'silent')).toEqual({ change: 'dropped', member: 'b', reason: 'silent' });
    expect(m.drop('b', 'again')).toBeUndefined();
    m.requestJoin('c', 6000);
    m.requestJoin('a', 6000);
    expect(m.size()).toBe(2);
    m.admitWaiting();
    expect(m.current()).toEqual(['c', 'a']);
  });
});

describe('gradient encodings', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 4));

  it('float32 round-trips bit for bit; half precision within its 11-bit mantissa', () => {
    expect(decodeGradient(encodeDense(values, 'f32'), 1000)).toEqual(values);
    const f16 = encodeDense(values, 'f16');
    expect(f16.bytes.byteLength).toBe(2000);
    const back = decodeGradient(f16, 1000);
    values.forEach((v, i) => {
      if (Math.abs(v) > 1e-4) expect(Math.abs((back[i] as number) - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3);
    });
    expect(() => decodeGradient(f16, 999)).toThrow(/expected 1998/);
  });

  it('top-k sends k entries and keeps the rest as error feedback, so over time nothing is lost', () => {
    const topk = new TopKCompressor(0.05);
    const sent = new Float64Array(1000);
    const steps = 40;
    for (let s = 0; s < steps; s++) {
      const e = topk.encode(values);
      expect(e.bytes.byteLength).toBe(4 + 8 * 50);
      decodeGradient(e, 1000).forEach((v, i) => (sent[i] = (sent[i] as number) + v));
    }
    // What was sent plus what is still held back equals everything that was produced.
    let maxGap = 0;
    values.forEach((v, i) => (maxGap = Math.max(maxGap, Math.abs(v * steps - (sent[i] as number)))));
    const biggest = Math.max(...values.map(Math.abs));
    expect(maxGap).toBeLessThan(biggest * 2); // bounded by the residual, not growing with steps
    expect(() => new TopKCompressor(0)).toThrow(/ratio/);
  });
});

describe('frames', () => {
  it('splits a payload into parts under the limit and puts it back, ignoring a repeated part', () => {
    const payload = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
    const frames = encodeFrames('m1', { kind: 'grad', step: 3 }, payload, 4096);
    expect(frames).toHaveLength(3);
    const r = new Reassembler();
    expect(r.add(frames[1]!)).toBeUndefined();
    expect(r.add(frames[1]!)).toBeUndefined();
    expect(r.add(frames[0]!)).toBeUndefined();
    const whole = r.add(frames[2]!);
    expect(whole?.meta).toEqual({ kind: 'grad', step: 3 });
    expect(whole?.payload).toEqual(payload);
    expect(() => decodeFrame(new Uint8Array([255, 255, 0, 0, 1]))).toThrow(/runs past/);
  });
});
