import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { subscribeEvents } from '@mlpipe/bus';
import type { Envelope } from '@mlpipe/contracts';
import { eventually } from '@mlpipe/common';
import { DatasetWatcherConfigSchema, loadConfig } from '@mlpipe/config';
import { createPool, type Pool } from '@mlpipe/db';
import { PIXELS, encodeIdx, writeIncomingBatch } from '@mlpipe/dataset';
import { createLogger, createMetricsRegistry, freePort } from '@mlpipe/runtime';
import { createObjectStore, putJson, type ObjectStore } from '@mlpipe/storage';
import { createTestBus, createTestDatabase, jpegDeclaring, pngDeclaring, type TestBus } from '@mlpipe/testing';
import { startWatcher, type RunningWatcher } from '../../services/dataset-watcher/src/service';

const ROOT = resolve(import.meta.dirname, '../..');
const MB = 1024 * 1024;

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

describe('input bombs against the real gateway process', () => {
  let gateway: ChildProcess;
  let url = '';
  let storeRoot = '';
  let log = '';

  beforeAll(async () => {
    storeRoot = await mkdtemp(join(tmpdir(), 'mlpipe-bombs-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    gateway = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'services/gateway/src/main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
        BUS_NAMESPACE: `bomb${randomBytes(4).toString('hex')}`,
        STORE_KIND: 'fs',
        STORE_ROOT: storeRoot,
        HTTP_PORT: String(port),
        // No registry: the bombs must be refused before any model is looked for.
        REGISTRY_URL: 'http://127.0.0.1:9',
        GATEWAY_MAX_IMAGE_BYTES: String(256 * 1024),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gateway.stdout?.on('data', (d: Buffer) => void (log = (log + d.toString()).slice(-4000)));
    gateway.stderr?.on('data', (d: Buffer) => void (log = (log + d.toString()).slice(-4000)));
    await eventually(
      async () => {
        if (gateway.exitCode !== null) throw new Error(`the gateway exited while starting:\n${log}`);
        // The gateway's own app (not the start-up ops server, which answers /healthz earlier).
        return fetch(`${url}/v2/health/live`).then((r) => r.ok, () => false);
      },
      90_000,
      'the gateway app listening',
    );
  });

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      gateway.kill('SIGKILL');
      await new Promise((r) => gateway.once('exit', r));
    }
    await rm(storeRoot, { recursive: true, force: true });
  });

  /** Sends one upload and measures the answer's time and the gateway's memory around it. */
  async function attack(path: string, body: Buffer | string, contentType: string) {
    const pid = gateway.pid as number;
    const before = memoryOf(pid);
    const started = performance.now();
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : new Uint8Array(body) });
    const answer = (await res.json()) as { error: string; code: string };
    const ms = performance.now() - started;
    const after = memoryOf(pid);
    return { status: res.status, answer, ms, rssGrowth: after.rss - before.rss, peakGrowth: after.peak - before.peak };
  }

  it('refuses a 20000×20000 PNG bomb with 400 and the reason within 1 s, without the memory', async () => {
    const bomb = pngDeclaring(20_000, 20_000, 120);
    expect(bomb.length).toBeLessThan(64 * 1024);
    for (const path of ['/predict?model=mnist', '/explain?model=mnist']) {
      const r = await attack(path, bomb, 'image/png');
      expect(r.status, JSON.stringify(r.answer)).toBe(400);
      expect(r.answer).toEqual({ code: 'image_too_large', error: expect.stringMatching(/PNG declares 20000×20000 \(400000000 pixels\); at most 4000000 \(GATEWAY_MAX_IMAGE_PIXELS\)/) });
      expect(r.ms).toBeLessThan(1000);
      expect(r.rssGrowth).toBeLessThan(100 * MB);
      expect(r.peakGrowth).toBeLessThan(100 * MB);
    }
  });

  it('refuses the same bomb sent as base64 JSON, and a JPEG bomb, the same way', async () => {
    const json = await attack('/predict', JSON.stringify({ model: 'mnist', image: `data:image/png;base64,${pngDeclaring(20_000, 20_000, 120).toString('base64')}` }), 'application/json');
    expect(json.status).toBe(400);
    expect(json.answer.code).toBe('image_too_large');
    const jpeg = await attack('/predict', jpegDeclaring(60_000, 60_000), 'image/jpeg');
    expect(jpeg.status, JSON.stringify(jpeg.answer)).toBe(400);
    expect(jpeg.answer).toEqual({ code: 'image_too_large', error: expect.stringMatching(/JPEG declares 60000×60000/) });
    for (const r of [json, jpeg]) {
      expect(r.ms).toBeLessThan(1000);
      expect(r.rssGrowth).toBeLessThan(100 * MB);
      expect(r.peakGrowth).toBeLessThan(100 * MB);
    }
  });

  it('refuses an upload over GATEWAY_MAX_IMAGE_BYTES with the reason, and lets a small real image past the checks', async () => {
    const big = Buffer.concat([pngDeclaring(100, 100, 1), Buffer.alloc(300 * 1024)]);
    const r = await attack('/predict', big, 'image/png');
    expect(r.status).toBe(400);
    expect(r.answer.error).toMatch(/at most 262144 \(GATEWAY_MAX_IMAGE_BYTES\)/);
    // A real 40×30 digit passes the image checks: what it meets next is the missing registry, not a size refusal.
    const png = new PNG({ width: 40, height: 30 });
    png.data.fill(255);
    const fine = await attack('/predict', PNG.sync.write(png), 'image/png');
    expect(fine.answer.code).not.toBe('image_too_large');
    expect(fine.status).not.toBe(500);
  });
});

describe('input bombs against the dataset watcher (real NATS, PostgreSQL, folder store)', () => {
  let bus: TestBus;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let root = '';
  let store: ObjectStore;
  let watcher: RunningWatcher;
  const rejected: Envelope<'data.batch.rejected'>[] = [];
  const validated: Envelope<'data.batch.validated'>[] = [];

  beforeAll(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    root = await mkdtemp(join(tmpdir(), 'mlpipe-batch-bombs-'));
    store = createObjectStore({ kind: 'fs', root });
    subscribeEvents(bus, 'data.batch.rejected', (e) => void rejected.push(e), createLogger('t', 'silent'));
    subscribeEvents(bus, 'data.batch.validated', (e) => void validated.push(e), createLogger('t', 'silent'));
    watcher = await startWatcher({
      config: loadConfig(DatasetWatcherConfigSchema, {
        DATABASE_URL: db.url,
        DATA_POLL_MS: '60000',
        DRIFT_ENABLED: 'false',
        DATA_MAX_BATCH_BYTES: String(2 * MB),
        DATA_MAX_BATCH_SAMPLES: '1000',
        DATA_MAX_CSV_ROWS: '500',
      }),
      bus,
      pool,
      store,
      logger: createLogger('watcher', 'silent'),
      metrics: createMetricsRegistry('w'),
    });
  });

  afterAll(async () => {
    await watcher?.stop();
    await bus?.dispose();
    await pool?.end();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('rejects oversized batches with the reason, writes nothing of them, and validates the next batch', async () => {
    const manifest = (format: 'idx' | 'png-csv', files: object) => ({ schemaVersion: 1, dataset: 'mnist', split: 'train', format, files });
    // a: 100 000 CSV rows (78 MB of images once allocated); b: PNG bombs; c: 3 MB of files; d: 2000 IDX samples.
    const rows = Array.from({ length: 100_000 }, (_, i) => `d${i}.png,${i % 10}`).join('\n');
    await store.put('incoming/a-rows/labels.csv', new TextEncoder().encode(rows));
    await putJson(store, 'incoming/a-rows/batch.json', manifest('png-csv', { labels: 'labels.csv' }));
    for (let i = 0; i < 3; i++) await store.put(`incoming/b-bombs/d${i}.png`, pngDeclaring(20_000, 20_000, 120));
    await store.put('incoming/b-bombs/labels.csv', new TextEncoder().encode('d0.png,1\nd1.png,2\nd2.png,3\n'));
    await putJson(store, 'incoming/b-bombs/batch.json', manifest('png-csv', { labels: 'labels.csv' }));
    await store.put('incoming/c-bytes/images.idx', new Uint8Array(3 * MB));
    await putJson(store, 'incoming/c-bytes/batch.json', manifest('idx', { images: 'images.idx', labels: 'labels.idx' }));
    await store.put('incoming/d-samples/images.idx', encodeIdx([2000, 28, 28], new Uint8Array(2000 * PIXELS)));
    await store.put('incoming/d-samples/labels.idx', encodeIdx([2000], new Uint8Array(2000)));
    await putJson(store, 'incoming/d-samples/batch.json', manifest('idx', { images: 'images.idx', labels: 'labels.idx' }));
    // e: an honest batch, behind them in key order.
    const images = new Uint8Array(100 * PIXELS);
    for (let i = 0; i < images.length; i++) images[i] = (i * 7919) % 251;
    await writeIncomingBatch(store, 'incoming/e-honest/', { dataset: 'mnist', split: 'train', format: 'idx', set: { images, labels: Uint8Array.from({ length: 100 }, (_, i) => i % 10), count: 100 } });

    await watcher.scan();
    await eventually(() => rejected.length >= 4 && validated.length >= 1, 20_000, 'four rejections and one validation');
    const reasonsOf = (batch: string) => rejected.find((e) => e.data.sourcePrefix === `incoming/${batch}/`)?.data.reasons;
    expect(reasonsOf('a-rows')).toEqual(['labels.csv has 100000 rows; at most 500 (DATA_MAX_CSV_ROWS)']);
    expect(reasonsOf('b-bombs')).toEqual(['d0.png is 20000×20000; expected 28×28', 'd1.png is 20000×20000; expected 28×28', 'd2.png is 20000×20000; expected 28×28']);
    expect(reasonsOf('c-bytes')).toEqual([expect.stringMatching(/at most 2097152 \(DATA_MAX_BATCH_BYTES\)/)]);
    expect(reasonsOf('d-samples')).toEqual([expect.stringMatching(/2000 samples; at most 1000 \(DATA_MAX_BATCH_SAMPLES\)/)]);
    expect(validated.map((e) => e.data.sourcePrefix)).toEqual(['incoming/e-honest/']);
    // Only the honest batch was normalised: one batch folder under datasets/.
    const normalised = new Set((await store.list('datasets/mnist/batches/')).map((o) => o.key.split('/')[3]));
    expect([...normalised]).toEqual([validated[0]?.data.contentHash]);
  });
});
