import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeKeys } from '@mlpipe/contracts';
import { createModel, initBackend, saveModel } from '@mlpipe/ml';
import { createObjectStore, putJson, type ObjectStore } from '@mlpipe/storage';
import { CheckpointStore } from '../src/adapters/checkpoints';

describe('resuming only from a checkpoint of the job itself', () => {
  let root: string;
  let store: ObjectStore;
  beforeAll(async () => {
    await initBackend('cpu');
    root = await mkdtemp(join(tmpdir(), 'mlpipe-cp-'));
    store = createObjectStore({ kind: 'fs', root });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  const pointTo = (jobId: string, prefix: string) =>
    putJson(store, storeKeys.checkpointPointer(jobId), { jobId, epoch: 1, steps: 10, attempt: 1, prefix, history: [], writtenAt: new Date().toISOString() });

  it("loads its own checkpoint, and refuses a pointer naming another job's folder or a path out of its own", async () => {
    const own = storeKeys.checkpointDir('job-a', 1, 10);
    await saveModel(store, own, createModel('cnn-small', { seed: 1 }));
    await pointTo('job-a', own);
    const checkpoints = new CheckpointStore(store);
    expect(await checkpoints.latest('job-a', 10)).toMatchObject({ epoch: 1, steps: 10 });

    // Someone with write access to the bucket points job-b at job-a's weights (or at a model's).
    await pointTo('job-b', own);
    await expect(checkpoints.latest('job-b', 10)).rejects.toThrow(/checkpoint pointer of job job-b points outside its folder: .*not under its job's folder checkpoints\/job-b\//);
    await pointTo('job-b', `${storeKeys.checkpointDir('job-b', 1, 10)}../../job-a/attempt-001/step-000000010/`);
    await expect(checkpoints.latest('job-b', 10)).rejects.toThrow(/segment "\.\."/);
    await pointTo('job-b', storeKeys.modelArtefacts('mnist', 'job-b'));
    await expect(checkpoints.latest('job-b', 10)).rejects.toThrow(/not under its job's folder/);
  });
});
