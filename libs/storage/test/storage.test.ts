import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '@mlpipe/common';
import { createObjectStore, getJson, pollNewObjects, putJson, type ObjectInfo, type ObjectStore } from '../src';
import { startS3Server } from '@mlpipe/testing';

type Fixture = { store: ObjectStore; close(): Promise<void> };

const kinds: Record<string, () => Promise<Fixture>> = {
  fs: async () => {
    const root = await mkdtemp(join(tmpdir(), 'mlpipe-fs-'));
    return { store: createObjectStore({ kind: 'fs', root }), close: () => rm(root, { recursive: true, force: true }) };
  },
  s3: async () => {
    const s3 = await startS3Server();
    const store = createObjectStore({ kind: 's3', endpoint: s3.endpoint, bucket: 'mlpipe-test', accessKey: s3.accessKey, secretKey: s3.secretKey });
    return { store, close: s3.close };
  },
};

const bytes = (...v: number[]) => Uint8Array.from(v);

describe.each(Object.keys(kinds))('%s object store', (kind) => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await kinds[kind]!();
    await fx.store.ensureReady();
    await fx.store.ensureReady(); // idempotent
  });
  afterAll(() => fx.close());

  it('round-trips binary data and reports its size', async () => {
    const body = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
    await fx.store.put('a/b/data.bin', body);
    expect(Buffer.from(await fx.store.get('a/b/data.bin')).equals(Buffer.from(body))).toBe(true);
    expect((await fx.store.head('a/b/data.bin'))?.size).toBe(70_000);
    expect(await fx.store.head('a/b/missing.bin')).toBeUndefined();
  });

  it('lists recursively, sorted, only under the prefix', async () => {
    await fx.store.put('list/x/2.bin', bytes(2));
    await fx.store.put('list/x/1.bin', bytes(1));
    await fx.store.put('list/y/deep/3.bin', bytes(3));
    await fx.store.put('listing-other/4.bin', bytes(4));
    expect((await fx.store.list('list/')).map((o) => o.key)).toEqual(['list/x/1.bin', 'list/x/2.bin', 'list/y/deep/3.bin']);
    expect((await fx.store.list('list/x/')).map((o) => o.key)).toEqual(['list/x/1.bin', 'list/x/2.bin']);
    expect(await fx.store.list('nothing-here/')).toEqual([]);
  });

  it('says NotFound for a missing object and deletes idempotently', async () => {
    await expect(fx.store.get('nope/missing')).rejects.toBeInstanceOf(NotFoundError);
    await fx.store.put('del/me', bytes(1));
    await fx.store.delete('del/me');
    await fx.store.delete('del/me');
    expect(await fx.store.head('del/me')).toBeUndefined();
  });

  it('rejects keys that could escape or confuse', async () => {
    for (const key of ['../etc/passwd', '/abs', 'a//b', 'a/./b', 'a\\b', '', 'a/../../b', 'tail/']) {
      await expect(fx.store.put(key, bytes(1))).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it('validates JSON documents against a schema', async () => {
    await putJson(fx.store, 'json/doc.json', { n: 3 });
    expect(await getJson(fx.store, 'json/doc.json', z.object({ n: z.number() }))).toEqual({ n: 3 });
    await expect(getJson(fx.store, 'json/doc.json', z.object({ n: z.string() }))).rejects.toThrow(/does not match its schema: n:/);
    await fx.store.put('json/bad.json', new TextEncoder().encode('{'));
    await expect(getJson(fx.store, 'json/bad.json')).rejects.toBeInstanceOf(ValidationError);
  });

  it('polls new objects once each and stops when aborted', async () => {
    const controller = new AbortController();
    const seen: ObjectInfo[] = [];
    await fx.store.put('poll/1', bytes(1));
    const done = (async () => {
      for await (const o of pollNewObjects(fx.store, 'poll/', { intervalMs: 50, signal: controller.signal })) {
        seen.push(o);
        if (seen.length === 1) await fx.store.put('poll/2', bytes(2));
      }
    })();
    const end = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await done;
    expect(seen.map((o) => o.key)).toEqual(['poll/1', 'poll/2']);
  });
});

// Our own atomicity claim is the folder store's (temp file + rename). For S3 a PUT is atomic by the
// service's contract; s3rver, the local stand-in, does not promise it, so it is not tested against it.
describe('fs object store under concurrent writes', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await kinds.fs!();
    await fx.store.ensureReady();
  });
  afterAll(() => fx.close());

  it('leaves one whole value when the same key is written concurrently', async () => {
    const a = new Uint8Array(300_000).fill(1);
    const b = new Uint8Array(300_000).fill(2);
    await Promise.all([fx.store.put('race/key', a), fx.store.put('race/key', b), fx.store.put('race/key', a)]);
    const got = await fx.store.get('race/key');
    expect(got.length).toBe(300_000);
    expect(new Set(got).size).toBe(1);
    expect((await fx.store.list('race/')).map((o) => o.key)).toEqual(['race/key']);
  });
});

describe('s3 store against an unreachable endpoint', () => {
  it('fails with a transient error naming the store', async () => {
    const store = createObjectStore({ kind: 's3', endpoint: 'http://127.0.0.1:1', bucket: 'mlpipe', accessKey: 'k', secretKey: 's' });
    await expect(store.get('a')).rejects.toThrow(/object store unreachable .*127\.0\.0\.1:1/);
  });
});
