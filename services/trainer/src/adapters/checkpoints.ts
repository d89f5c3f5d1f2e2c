import { CheckpointPointerSchema, EpochMetricsSchema, storeKeys, type EpochMetrics } from '@mlpipe/contracts';
import { getJson, putJson, type ObjectStore } from '@mlpipe/storage';
import { NotFoundError } from '@mlpipe/common';
import { z } from 'zod';

export interface ModelBytes {
  modelJson: Uint8Array;
  weights: Uint8Array;
}

export interface Checkpoint {
  epoch: number;
  history: EpochMetrics[];
  model: ModelBytes;
}

/**
 * Checkpoints: the files of an epoch go to their own folder, then `latest.json` is rewritten to
 * point at it. A crash at any moment leaves the previous pointer, and so a whole checkpoint.
 */
export class CheckpointStore {
  constructor(private readonly store: ObjectStore) {}

  async save(jobId: string, cp: Checkpoint): Promise<string> {
    const prefix = storeKeys.checkpointDir(jobId, cp.epoch);
    await this.store.put(`${prefix}model.json`, cp.model.modelJson, { contentType: 'application/json' });
    await this.store.put(`${prefix}weights.bin`, cp.model.weights, { contentType: 'application/octet-stream' });
    await putJson(this.store, storeKeys.checkpointPointer(jobId), {
      jobId,
      epoch: cp.epoch,
      prefix,
      history: cp.history,
      writtenAt: new Date().toISOString(),
    });
    return prefix;
  }

  async latest(jobId: string): Promise<Checkpoint | undefined> {
    let pointer: z.infer<typeof CheckpointPointerSchema>;
    try {
      pointer = await getJson(this.store, storeKeys.checkpointPointer(jobId), CheckpointPointerSchema);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    return {
      epoch: pointer.epoch,
      history: z.array(EpochMetricsSchema).parse(pointer.history),
      model: {
        modelJson: await this.store.get(`${pointer.prefix}model.json`),
        weights: await this.store.get(`${pointer.prefix}weights.bin`),
      },
    };
  }
}
