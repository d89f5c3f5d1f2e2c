import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PredictionRecordSchema, storeKeys, type PredictionRecord } from '@mlpipe/contracts';
import { createLogger } from '@mlpipe/runtime';
import { FsObjectStore, type ObjectStore } from '@mlpipe/storage';
import { PredictionLog } from '../src/adapters/predictionLog';

const record = (i: number, model: string): PredictionRecord => ({
  predictionId: `p-${i}`,
  at: new Date().toISOString(),
  model,
  version: 1,
  variant: 'champion',
  class: i % 10,
  confidence: 0.5,
  input28: Buffer.from([i % 256]).toString('base64'),
});

const linesOf = async (store: ObjectStore, model: string): Promise<PredictionRecord[]> => {
  const objects = await store.list(storeKeys.predictionLogDir(model));
  const texts = await Promise.all(objects.map(async (o) => new TextDecoder().decode(await store.get(o.key))));
  return texts.flatMap((t) => t.trim().split('\n')).map((l) => PredictionRecordSchema.parse(JSON.parse(l)));
};

/** A folder store whose writes fail while `away`. */
class StoreAway extends FsObjectStore {
  away = true;
  override put(...args: Parameters<FsObjectStore['put']>): Promise<void> {
    return this.away ? Promise.reject(new Error('store away')) : super.put(...args);
  }
}

describe('the prediction log', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const folderStore = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-predlog-'));
    dirs.push(dir);
    return { root: dir, store: new FsObjectStore(dir) };
  };
  const logger = createLogger('test', 'silent');

  it('builds only the records it keeps, and writes each model its own object, in order', async () => {
    const { store } = folderStore();
    // A share of one half with a fixed sequence of draws: every other offer is kept.
    let draw = 0;
    const log = new PredictionLog({ store, logger, sampleShare: 0.5, flushMs: 60_000, random: () => (draw++ % 2 ? 0.9 : 0.1) });
    let built = 0;
    for (let i = 0; i < 2000; i++) log.offer(() => (built++, record(i, i % 3 ? 'mnist' : 'fashion')));
    await log.close();
    expect(built).toBe(1000);
    const mnist = await linesOf(store, 'mnist');
    const fashion = await linesOf(store, 'fashion');
    const kept = Array.from({ length: 2000 }, (_, i) => i).filter((i) => i % 2 === 0);
    expect(mnist.map((r) => r.predictionId)).toEqual(kept.filter((i) => i % 3).map((i) => `p-${i}`));
    expect(fashion.map((r) => r.predictionId)).toEqual(kept.filter((i) => i % 3 === 0).map((i) => `p-${i}`));
  });

  it('keeps what a failed write held for the next flush', async () => {
    const store = new StoreAway(folderStore().root);
    const log = new PredictionLog({ store, logger, sampleShare: 1, flushMs: 60_000 });
    for (let i = 0; i < 3; i++) log.offer(() => record(i, 'mnist'));
    await log.flush();
    expect(await linesOf(store, 'mnist')).toEqual([]);
    store.away = false;
    log.offer(() => record(3, 'mnist'));
    await log.close();
    expect((await linesOf(store, 'mnist')).map((r) => r.predictionId)).toEqual(['p-0', 'p-1', 'p-2', 'p-3']);
  });
});
