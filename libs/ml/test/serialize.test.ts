import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeKeys } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { createModel, evaluateModel, initBackend, loadModel, saveModel } from '../src';
import { loadMnist } from './mnist';

describe('a model in the object store', () => {
  let root: string;
  let store: ObjectStore;
  beforeAll(async () => {
    await initBackend('cpu');
    root = await mkdtemp(join(tmpdir(), 'mlpipe-ml-'));
    store = createObjectStore({ kind: 'fs', root });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('is saved under its artefact prefix, model.json last, and loads back to the same predictions', async () => {
    const prefix = storeKeys.modelArtefacts('mnist', 'job-ser');
    const model = createModel('cnn-small', { seed: 3 });
    const written: string[] = [];
    const recording: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      put: async (key: string, body: Uint8Array) => {
        written.push(key);
        await store.put(key, body);
      },
    });
    const keys = await saveModel(recording, prefix, model);
    expect(keys).toEqual({ modelJsonKey: `${prefix}model.json`, weightsKey: `${prefix}weights.bin` });
    expect(written).toEqual([keys.weightsKey, keys.modelJsonKey]);

    const loaded = await loadModel(store, prefix);
    const probe = loadMnist('t10k', 20);
    expect(evaluateModel(loaded, probe).confusionMatrix).toEqual(evaluateModel(model, probe).confusionMatrix);
    expect(loaded.optimizer).toBeDefined();
    model.dispose();
    loaded.dispose();
    await expect(loadModel(store, storeKeys.modelArtefacts('mnist', 'no-such-job'))).rejects.toThrow(/no object/);
  });
});
