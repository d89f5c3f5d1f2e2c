import { CheckpointPointerSchema, EpochMetricsSchema, storeKeys, type EpochMetrics } from '@mlpipe/contracts';
import { getJson, putJson, type ObjectStore } from '@mlpipe/storage';
import { getModelFiles, putModelFiles, type ModelArtifacts } from '@mlpipe/ml';
import { NotFoundError } from '@mlpipe/common';
import { z } from 'zod';

export interface Checkpoint {
  epoch: number;
  history: EpochMetrics[];
  model: ModelArtifacts;
}

/**
 * Checkpoints: the files of an epoch go to their own folder, then `latest.json` is rewritten to
 * point at it. A crash at any moment leaves the previous pointer, and so a whole checkpoint.
 */
export class CheckpointStore {
  constructor(private readonly store: ObjectStore) {}

  async save(jobId: string, cp: Checkpoint): Promise<string> {
    const prefix = storeKeys.checkpointDir(jobId, cp.epoch);
    await putModelFiles(this.store, prefix, cp.model);
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
      model: await getModelFiles(this.store, pointer.prefix),
    };
  }
}
