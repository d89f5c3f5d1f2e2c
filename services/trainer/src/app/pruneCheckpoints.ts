import { describeError, type Logger } from '@mlpipe/common';
import type { ObjectStore } from '@mlpipe/storage';
import { CheckpointStore } from '../adapters/checkpoints';

/**
 * Once a job has ended for good (completed, cancelled, failed with no attempt left), its older
 * checkpoints go and the last one stays: what a redelivered message or a run by hand resumes from.
 * Never called while another attempt may follow. A prune that fails only leaves more checkpoints
 * behind, so it is logged and the job's outcome stands.
 */
export async function pruneEndedJobCheckpoints(store: ObjectStore, jobId: string, outcome: 'completed' | 'cancelled' | 'failed', log: Logger): Promise<void> {
  try {
    const { deleted, kept } = await new CheckpointStore(store).pruneEnded(jobId);
    if (deleted) log.info({ jobId, outcome, deleted, kept }, 'older checkpoints pruned; the last one kept');
  } catch (err) {
    log.warn({ jobId, outcome, err: describeError(err) }, 'could not prune the job\'s older checkpoints; they stay');
  }
}
