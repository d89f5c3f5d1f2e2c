import { describe, expect, it } from 'vitest';
import { mulberry32 as random } from '@mlpipe/common';
import { meanOfSums } from '../src/core/gradientCodec';
import { ownedChunk, ringChunks, ringNeighbours, ringStepCount, ringSteps } from '../src/core/ringPlan';
import { RingReduce } from '../src/core/ringReduce';

/** Gradient sums with a spread of magnitudes, as real ones have (and some exact zeros). */
function gradients(n: number, length: number, seed: number): Float32Array[] {
  const r = random(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length }, () => (r() < 0.05 ? 0 : (r() - 0.5) * 10 ** Math.floor(r() * 6 - 4))));
}

/** Runs the ring in memory: at each step every rank's outgoing chunk is handed to its right neighbour. */
function simulate(inputs: Float32Array[], divisor: number): Float32Array[] {
  const n = inputs.length;
  const ranks = inputs.map((g, rank) => new RingReduce(rank, n, g, divisor));
  for (let t = 0; t < ringStepCount(n); t++) {
    const sent = ranks.map((r) => r.outgoing());
    ranks.forEach((r, rank) => r.receive(sent[(rank - 1 + n) % n] as Float32Array));
  }
  return ranks.map((r) => r.result());
}

describe('ring plan', () => {
  it('cuts a gradient into N contiguous chunks that cover it exactly, uneven sizes included', () => {
    for (const [length, n] of [[7, 3], [2, 5], [0, 2], [1_000_003, 4]] as const) {
      const chunks = ringChunks(length, n);
      expect(chunks).toHaveLength(n);
      expect(chunks[0]?.start).toBe(0);
      expect(chunks.at(-1)?.end).toBe(length);
      chunks.forEach((c, i) => {
        if (i > 0) expect(c.start).toBe(chunks[i - 1]?.end);
        expect(c.end - c.start).toBeGreaterThanOrEqual(Math.floor(length / n));
        expect(c.end - c.start).toBeLessThanOrEqual(Math.ceil(length / n));
      });
    }
    expect(() => ringChunks(10, 0)).toThrow(/at least one member/);
  });

  it('has every rank send at each step the chunk its right neighbour expects', () => {
    for (let n = 1; n <= 6; n++) {
      const plans = Array.from({ length: n }, (_, rank) => ringSteps(rank, n));
      for (let t = 0; t < ringStepCount(n); t++) {
        for (let rank = 0; rank < n; rank++) expect(plans[(rank + 1) % n]?.[t]?.receive).toBe(plans[rank]?.[t]?.send);
      }
      // A rank receives each chunk but its own once in the reduce-scatter, and ends it holding the one it owns.
      for (let rank = 0; rank < n; rank++) {
        const scatter = (plans[rank] ?? []).filter((s) => s.phase === 'reduce-scatter');
        expect(new Set(scatter.map((s) => s.receive)).size).toBe(n - 1);
        if (n > 1) expect(scatter.at(-1)?.receive).toBe(ownedChunk(rank, n));
      }
    }
  });

  it('names the neighbours in member-list order, wrapping around', () => {
    expect(ringNeighbours(['a', 'b', 'c'], 0)).toEqual({ left: 'c', right: 'b' });
    expect(ringNeighbours(['a', 'b', 'c'], 2)).toEqual({ left: 'b', right: 'a' });
    expect(ringNeighbours(['a'], 0)).toEqual({ left: 'a', right: 'a' });
  });
});

describe('ring all-reduce, simulated in memory', () => {
  for (let n = 1; n <= 5; n++) {
    for (const length of [1, 3, 101, 4099]) {
      it(`${n} member(s), ${length} values: every rank gets the mean of all sums, bit for bit the same`, () => {
        const inputs = gradients(n, length, 1000 * n + length);
        const count = 37 * n + 5; // a global batch that does not divide evenly
        const results = simulate(inputs, count);
        const exact = new Float64Array(length);
        for (const g of inputs) g.forEach((v, i) => (exact[i] = (exact[i] as number) + v));
        for (let i = 0; i < length; i++) {
          const want = (exact[i] as number) / count;
          const scale = inputs.reduce((s, g) => s + Math.abs(g[i] as number), 0) / count;
          // float32 rounding on each of up to n-1 hops and once at the end.
          expect(Math.abs((results[0]?.[i] as number) - want)).toBeLessThanOrEqual(n * 2 ** -23 * scale + 1e-45);
        }
        for (const r of results.slice(1)) expect(Buffer.from(r.buffer).equals(Buffer.from((results[0] as Float32Array).buffer))).toBe(true);
      });
    }
  }

  it('with two members is exactly the coordinator\'s reduction (meanOfSums)', () => {
    const inputs = gradients(2, 999, 7);
    const [ring] = simulate(inputs, 77);
    expect(Buffer.from((ring as Float32Array).buffer).equals(Buffer.from(meanOfSums(inputs, 77).buffer))).toBe(true);
  });

  it('refuses a chunk of the wrong length and a step past the end', () => {
    const r = new RingReduce(0, 2, new Float32Array(5), 1);
    expect(() => r.receive(new Float32Array(1))).toThrow(/expected 2/);
    r.receive(new Float32Array(2));
    r.receive(new Float32Array(3));
    expect(r.done).toBe(true);
    expect(() => r.outgoing()).toThrow(/complete/);
  });
});
