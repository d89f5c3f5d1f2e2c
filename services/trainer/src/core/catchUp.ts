/**
 * What a replica does with the mean gradient a control frame asks it to apply. Pure: the worker
 * passes what it knows and acts on the answer.
 *
 * WHY this is its own rule: a replica behind the group (it missed steps while cut off) must not
 * apply a later step on top of stale weights, so it asks to re-join. But once it has asked, the
 * frames that follow are not a reason to ask again: while its join waits for the step boundary
 * it is outside the group, and the frame that re-admits it carries the weights (the state
 * transfer) that already include the step to apply. Re-joining on those frames dropped the
 * replica at every admission and re-admitted it at the next boundary, for ever (the flapping
 * seen in the multi-host partition scenario).
 */
export type ApplyDecision = 'apply' | 'skip' | 'rejoin';

export interface ApplyFrame {
  kind: 'step' | 'done';
  /** The step whose mean the frame carries, if any. */
  applyStep: number | undefined;
  /** The frame's state transfer names this replica: the weights through the previous step come to it. */
  stateToThisReplica: boolean;
}

export interface ReplicaPosition {
  /** The last step this replica's weights include (-1: none yet). */
  appliedThrough: number;
  hasModel: boolean;
  /** 'waiting': its join was accepted and waits for the next step boundary. */
  role: 'outside' | 'waiting' | 'member';
}

export function applyDecision(frame: ApplyFrame, replica: ReplicaPosition): ApplyDecision {
  const step = frame.applyStep;
  if (step === undefined || !replica.hasModel || step <= replica.appliedThrough) return 'skip';
  if (step === replica.appliedThrough + 1) return 'apply';
  // Behind the group by more than this step. The weights coming to it replace its own.
  if (frame.stateToThisReplica) return 'skip';
  // Its join is under way: the admission brings the weights. A 'done' frame is the exception,
  // no admission follows it, and a replica behind must not end the job as if it were through.
  if (replica.role !== 'member' && frame.kind === 'step') return 'skip';
  return 'rejoin';
}
