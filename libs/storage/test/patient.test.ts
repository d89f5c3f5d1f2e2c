import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '@mlpipe/common';
import { FsObjectStore, patientStore, type ObjectStore } from '../src';

/** A real folder store behind a switch that makes every call fail as a refused connection would. */
function flakyStore(inner: ObjectStore): ObjectStore & { down: boolean; calls: number } {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' });
  const gate = <T>(work: () => Promise<T>) => {
    wrapped.calls++;
    return wrapped.down ? Promise.reject(refused()) : work();
  };
  const wrapped = {
    down: false,
    calls: 0,
    description: inner.description,
    ensureReady: () => gate(() => inner.ensureReady()),
    put: (k: string, b: Uint8Array) => gate(() => inner.put(k, b)),
    get: (k: string) => gate(() => inner.get(k)),
    head: (k: string) => gate(() => inner.head(k)),
    list: (p: string) => gate(() => inner.list(p)),
    delete: (k: string) => gate(() => inner.delete(k)),
  };
  return wrapped;
}

describe('patientStore', () => {
  let dir: string;
  beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), 'mlpipe-patient-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('waits out an outage and then does the work once', async () => {
    const flaky = flakyStore(new FsObjectStore(dir));
    const retries: number[] = [];
    const store = patientStore(flaky, { forMs: 10_000, maxDelayMs: 200, onRetry: (_e, tries) => void retries.push(tries) });
    flaky.down = true;
    setTimeout(() => (flaky.down = false), 700);
    await store.put('a/b.txt', new TextEncoder().encode('hello'));
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(new TextDecoder().decode(await store.get('a/b.txt'))).toBe('hello');
  });

  it('gives up after its budget with the store\'s own error, and never retries a permanent answer', async () => {
    const flaky = flakyStore(new FsObjectStore(dir));
    const store = patientStore(flaky, { forMs: 300, maxDelayMs: 100 });
    flaky.down = true;
    await expect(store.get('a/b.txt')).rejects.toThrow(/ECONNREFUSED/);
    flaky.down = false;
    flaky.calls = 0;
    await expect(store.get('no/such.txt')).rejects.toBeInstanceOf(NotFoundError);
    expect(flaky.calls).toBe(1);
  });
});
