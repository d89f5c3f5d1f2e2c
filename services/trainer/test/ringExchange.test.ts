import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@mlpipe/bus';
import { RingCancelled, RingExchange, RingTimeout, ringSubjectBase } from '../src/adapters/ringExchange';

/**
 * The ring all-reduce over the real NATS server, every member on a connection of its own: the
 * result is the float64 mean of all gradient sums to float32 precision and the same bits on every
 * member, also over chunks split into many parts and for consecutive steps; a silent member makes
 * the others fail with its name instead of hanging.
 */
const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const namespace = `t${randomBytes(5).toString('hex')}`;
const key = randomBytes(32);
const buses: Bus[] = [];
afterAll(async () => {
  for (const b of buses) await b.close().catch(() => undefined);
});

let jobs = 0;
async function ring(n: number, opts: { maxPartBytes?: number; timeoutMs?: number } = {}) {
  const base = ringSubjectBase(namespace, `ring.job-${++jobs}`);
  const members = Array.from({ length: n }, (_, i) => `replica.${i}`);
  const exchanges = await Promise.all(
    members.map(async (member) => {
      const bus = await connectBus({ url, name: `${namespace}-${member}`, namespace });
      buses.push(bus);
      const x = new RingExchange({ nc: bus.nc, base, generation: 3, member, key, maxPartBytes: opts.maxPartBytes, timeoutMs: opts.timeoutMs ?? 20_000 });
      await x.open();
      return x;
    }),
  );
  await Promise.all(exchanges.map((x) => x.handshake(members, 20_000)));
  return { members, exchanges };
}

const sums = (n: number, length: number) => Array.from({ length: n }, () => Float32Array.from({ length }, () => (Math.random() - 0.5) * 3));

function expectMean(results: Float32Array[], inputs: Float32Array[], count: number): void {
  const first = results[0] as Float32Array;
  for (let i = 0; i < first.length; i++) {
    const want = inputs.reduce((s, g) => s + (g[i] as number), 0) / count;
    const scale = inputs.reduce((s, g) => s + Math.abs(g[i] as number), 0) / count;
    expect(Math.abs((first[i] as number) - want)).toBeLessThanOrEqual(inputs.length * 2 ** -23 * scale + 1e-45);
  }
  for (const r of results.slice(1)) expect(Buffer.from(r.buffer).equals(Buffer.from(first.buffer))).toBe(true);
}

describe('ring all-reduce over NATS', () => {
  for (const n of [3, 4]) {
    it(`${n} members: the mean of all sums on every member, for consecutive steps`, async () => {
      const { members, exchanges } = await ring(n);
      for (const step of [0, 1, 2]) {
        const inputs = sums(n, 10_001);
        const count = 64 * n + 3;
        const results = await Promise.all(exchanges.map((x, k) => x.allReduce({ step, members, gradientSum: inputs[k] as Float32Array, count })));
        expectMean(results, inputs, count);
      }
    }, 60_000);
  }

  it('splits chunks larger than a part and puts them back together', async () => {
    const { members, exchanges } = await ring(3, { maxPartBytes: 4096 });
    const inputs = sums(3, 50_000);
    const results = await Promise.all(exchanges.map((x, k) => x.allReduce({ step: 0, members, gradientSum: inputs[k] as Float32Array, count: 3 })));
    expectMean(results, inputs, 3);
    // 2(N-1)/N of a gradient out of each member, in parts of 4 KiB each carrying a header and a seal.
    for (const x of exchanges) expect(x.bytesSent).toBeGreaterThan((4 / 3) * 50_000 * 4);
  }, 60_000);

  for (const [n, silentRank] of [[3, 2], [4, 1]] as const) {
    it(`${n} members, one silent: the others stop with its name, not hang`, async () => {
      const { members, exchanges } = await ring(n, { timeoutMs: 1500 });
      const inputs = sums(n, 999);
      const outcomes = await Promise.allSettled(
        exchanges.filter((_, k) => k !== silentRank).map((x, k) => x.allReduce({ step: 5, members, gradientSum: inputs[k] as Float32Array, count: n })),
      );
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        const reason = (o as PromiseRejectedResult).reason as unknown;
        expect(reason).toBeInstanceOf(RingTimeout);
        expect((reason as RingTimeout).silent).toBe(members[silentRank]);
      }
    }, 60_000);
  }

  it('gives up at once when cancelled (the group moved on), with RingCancelled', async () => {
    const { members, exchanges } = await ring(3, { timeoutMs: 30_000 });
    const started = Date.now();
    const waiting = exchanges[0]!.allReduce({ step: 1, members, gradientSum: new Float32Array(30), count: 3 });
    expect(exchanges[0]!.inProgress).toEqual({ step: 1, round: 0 });
    setTimeout(() => exchanges[0]!.cancel(), 200);
    await expect(waiting).rejects.toBeInstanceOf(RingCancelled);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(exchanges[0]!.inProgress).toBeUndefined();
  }, 60_000);

  it('keeps chunks of a newer generation that come before the member learns of it, and never counts an older one', async () => {
    const { members, exchanges } = await ring(2);
    const inputs = sums(2, 101);
    // Member 1 moves to generation 4 and sends at once; member 0 learns of generation 4 only afterwards.
    exchanges[1]!.setGeneration(4);
    const second = exchanges[1]!.allReduce({ step: 0, members, gradientSum: inputs[1] as Float32Array, count: 2 });
    await new Promise((r) => setTimeout(r, 300));
    exchanges[0]!.setGeneration(4);
    const first = exchanges[0]!.allReduce({ step: 0, members, gradientSum: inputs[0] as Float32Array, count: 2 });
    expectMean(await Promise.all([first, second]), inputs, 2);
    // A member still at generation 3 talks to nobody: its neighbour at 4 ignores it.
    const stale = await ring(2, { timeoutMs: 800 });
    stale.exchanges[1]!.setGeneration(4);
    const outcomes = await Promise.allSettled(stale.exchanges.map((x, k) => x.allReduce({ step: 0, members: stale.members, gradientSum: inputs[k] as Float32Array, count: 2 })));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  }, 60_000);
});
