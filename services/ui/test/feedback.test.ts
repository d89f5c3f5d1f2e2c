import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { PIXELS, storeKeys } from '@mlpipe/contracts';
import { readIncomingBatch } from '@mlpipe/dataset';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { createPool, type Pool } from '@mlpipe/db';
import { localResolver, TokenStore } from '@mlpipe/auth';
import { createTestDatabase } from '@mlpipe/testing';
import { buildUi } from '../src/app';

describe('a correction from the web UI', () => {
  let root: string;
  let store: ObjectStore;
  let ui: FastifyInstance;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let operator: Record<string, string>;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlpipe-ui-'));
    store = createObjectStore({ kind: 'fs', root });
    // No gateway or registry answers here: the feedback path only writes to the store, and tokens
    // are resolved from a real token table (the registry's, in production) instead of over HTTP.
    db = await createTestDatabase();
    pool = await createPool(db.url);
    const tokens = new TokenStore(pool);
    await tokens.migrate();
    operator = { authorization: `Bearer ${(await tokens.create('carol', 'operator')).token}` };
    ui = await buildUi({
      gatewayUrl: 'http://127.0.0.1:9', registryUrl: 'http://127.0.0.1:9', store, dataPrefix: 'incoming/', metrics: createMetricsRegistry('u'), logger: createLogger('ui-test', 'silent'),
      auth: { resolve: localResolver({ tokens }) },
    });
  });
  afterAll(async () => {
    await ui.close();
    await pool.end();
    await db.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('becomes a png-csv batch the watcher reads, with the label and the prediction id in its note', async () => {
    const pixels = Array.from({ length: PIXELS }, (_, i) => (i % 28 > 10 && i % 28 < 16 ? 255 : 0));
    const res = await ui.inject({ method: 'POST', url: '/api/feedback', headers: operator, payload: { pixels, label: 4, predictionId: 'p-123' } });
    expect(res.statusCode).toBe(200);
    const { batch } = res.json<{ batch: string }>();
    expect(batch).toMatch(/^incoming\/feedback-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\/$/);
    expect(await store.head(storeKeys.incomingBatchManifest(batch))).toBeDefined();
    const read = await readIncomingBatch(store, batch);
    expect(read).toMatchObject({ ok: true, manifest: { dataset: 'mnist', split: 'train', format: 'png-csv', note: 'correction from the web UI by carol for prediction p-123' } });
    if (read.ok) {
      expect(Array.from(read.set.labels)).toEqual([4]);
      expect(Array.from(read.set.images)).toEqual(pixels);
    }
  });

  it('refuses a drawing of the wrong size', async () => {
    const res = await ui.inject({ method: 'POST', url: '/api/feedback', headers: operator, payload: { pixels: [0, 1], label: 4 } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(/pixels/);
  });
});
