import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeFrames } from '../src/core/frames';
import { decodeGroupKey, seal, unseal, SEAL_BYTES } from '../src/core/frameSeal';
import { gradientFault } from '../src/core/gradientCheck';

describe('group frame seals', () => {
  const key = randomBytes(32);
  const [frame] = encodeFrames('m-1', { kind: 'abort', group: 'g', attempt: 1, generation: 2, reason: 'x' }, new Uint8Array(0), 1 << 20) as [Uint8Array];

  it('opens a frame sealed with the same key on the same subject', () => {
    const sealed = seal(key, 'ns.dp.job.ctl', frame);
    expect(sealed.byteLength).toBe(frame.byteLength + SEAL_BYTES);
    expect(unseal(key, 'ns.dp.job.ctl', sealed)).toEqual(frame);
  });

  it('refuses another key, another subject, a changed byte and a frame too short to hold a seal', () => {
    const sealed = seal(key, 'ns.dp.job.ctl', frame);
    expect(unseal(randomBytes(32), 'ns.dp.job.ctl', sealed)).toBeUndefined();
    expect(unseal(key, 'ns.dp.job.grad', sealed)).toBeUndefined();
    const tampered = sealed.slice();
    tampered[10] = (tampered[10] as number) ^ 1;
    expect(unseal(key, 'ns.dp.job.ctl', tampered)).toBeUndefined();
    expect(unseal(key, 'ns.dp.job.ctl', new Uint8Array(SEAL_BYTES - 1))).toBeUndefined();
    expect(unseal(key, 'ns.dp.job.ctl', frame)).toBeUndefined();
  });

  it('takes only 32-byte keys', () => {
    expect(decodeGroupKey(randomBytes(32).toString('base64url')).byteLength).toBe(32);
    expect(() => decodeGroupKey(randomBytes(16).toString('base64url'))).toThrow(/32 bytes/);
  });
});

describe('gradient checks', () => {
  const ok = { gradSum: Float32Array.from([0.5, -1, 2]), lossSum: 3.2, count: 32, correct: 20 };

  it('accepts a finite gradient over exactly its shard', () => {
    expect(gradientFault(ok, 32)).toBeUndefined();
  });

  it('drops other counts, more correct than counted, and NaN or infinite values', () => {
    expect(gradientFault(ok, 31)).toBe('wrong-count');
    expect(gradientFault({ ...ok, correct: 33 }, 32)).toBe('wrong-count');
    expect(gradientFault({ ...ok, gradSum: Float32Array.from([0, Number.NaN, 1]) }, 32)).toBe('non-finite');
    expect(gradientFault({ ...ok, gradSum: Float32Array.from([Number.POSITIVE_INFINITY]) }, 32)).toBe('non-finite');
    expect(gradientFault({ ...ok, lossSum: Number.NaN }, 32)).toBe('non-finite');
  });
});
