import { CheckpointPointerSchema, EpochMetricsSchema, artefactPrefixProblem, storeKeys, type EpochMetrics } from '@mlpipe/contracts';
import { getJson, putJson, type ObjectStore } from '@mlpipe/storage';
import { getModelFiles, putModelFiles, type ModelArtifacts } from '@mlpipe/ml';
import { NotFoundError, ValidationError } from '@mlpipe/common';
import { z } from 'zod';
import type { EpochTallyState } from '../core/group';
import { checkpointKeysToPrune } from '../core/checkpointPruning';

export interface Checkpoint {
  /** Whole epochs done. */
  epoch: number;
  /** Steps applied; mid-epoch when it is not a multiple of the steps per epoch. */
  steps: number;
  /** The sums of the epoch in progress (mid-epoch checkpoints). */
  partialEpoch?: EpochTallyState;
  history: EpochMetrics[];
  model: ModelArtifacts;
}

/**
 * Checkpoints: the files go to a folder of their own (per attempt and step), then `latest.json` is
 * rewritten to point at it. A crash at any moment leaves the previous pointer, and so a whole
 * checkpoint. `beforePointer` runs between the two: a coordinator that lost its lease throws there
 * and moves no pointer.
 */
export class CheckpointStore {
  constructor(private readonly store: ObjectStore) {}

  async save(jobId: string, attempt: number, cp: Checkpoint, beforePointer: () => void = () => undefined): Promise<string> {
    const prefix = storeKeys.checkpointDir(jobId, attempt, cp.steps);
    await putModelFiles(this.store, prefix, cp.model);
    beforePointer();
    await putJson(this.store, storeKeys.checkpointPointer(jobId), {
      jobId,
      epoch: cp.epoch,
      steps: cp.steps,
      ...(cp.partialEpoch ? { partialEpoch: cp.partialEpoch } : {}),
      attempt,
      prefix,
      history: cp.history,
      writtenAt: new Date().toISOString(),
    });
    return prefix;
  }

  /**
   * For a job that ended (completed, cancelled, failed for good; never one that may resume): deletes
   * every checkpoint older than the one the pointer names. The pointer and its folder are never
   * touched, so a prune cut short leaves a resumable checkpoint, and running it again finishes it.
   */
  async pruneEnded(jobId: string): Promise<{ deleted: number; kept: string | undefined }> {
    let pointer: z.infer<typeof CheckpointPointerSchema>;
    try {
      pointer = await getJson(this.store, storeKeys.checkpointPointer(jobId), CheckpointPointerSchema);
    } catch (err) {
      if (err instanceof NotFoundError) return { deleted: 0, kept: undefined };
      throw err;
    }
    // Only a pointer of the current layout (attempt and step folders) says which folders are older.
    const current = pointer.attempt !== undefined && pointer.steps !== undefined ? storeKeys.checkpointDir(jobId, pointer.attempt, pointer.steps) : undefined;
    const pointed = current === pointer.prefix ? current : undefined;
    const root = storeKeys.checkpoints(jobId);
    const doomed = checkpointKeysToPrune((await this.store.list(root)).map((o) => o.key), root, pointed);
    for (const key of doomed) await this.store.delete(key);
    return { deleted: doomed.length, kept: pointed };
  }

  /** The last checkpoint; `stepsPerEpoch` dates checkpoints written before step counts were kept. */
  async latest(jobId: string, stepsPerEpoch: number): Promise<Checkpoint | undefined> {
    let pointer: z.infer<typeof CheckpointPointerSchema>;
    try {
      pointer = await getJson(this.store, storeKeys.checkpointPointer(jobId), CheckpointPointerSchema);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    // A pointer is only a file in the bucket: one naming another job's (or any other) folder is not resumed from.
    const problem = artefactPrefixProblem(pointer.prefix, { kind: 'checkpoint', jobId });
    if (problem) throw new ValidationError(`the checkpoint pointer of job ${jobId} points outside its folder: ${problem}`);
    return {
      epoch: pointer.epoch,
      steps: pointer.steps ?? pointer.epoch * stepsPerEpoch,
      ...(pointer.partialEpoch ? { partialEpoch: pointer.partialEpoch } : {}),
      history: z.array(EpochMetricsSchema).parse(pointer.history),
      model: await getModelFiles(this.store, pointer.prefix),
    };
  }
}
