import { loadConfig, TrainerConfigSchema } from '@mlpipe/config';
import type { JobSteps } from './stepTap';

/**
 * How many steps a fault may cost, from issue 12:
 *  - recovered in place (a NATS outage within the tolerance; a worker dropped and the group going
 *    on): at most the steps since the last consistent step, so one commit may be redone;
 *  - resumed from a checkpoint (a dead coordinator, an outage past the tolerance, a failed
 *    checkpoint write): seconds of training, not an epoch: at most the steps the job committed in
 *    the checkpoint interval before the fault, plus two (checkpointBound);
 *  - faults that do not touch training (the database, the orchestrator, the registry, a gateway): none.
 */
export const IN_PLACE_BOUND = 1;
export const UNTOUCHED_BOUND = 0;

/**
 * The checkpoint interval the trainers run with: TRAINER_CHECKPOINT_EVERY_MS as the scenario sets it,
 * else the shipped default; the "e.g. every 30 s" when time-based checkpoints are off (0).
 */
export function checkpointIntervalSec(trainerEnv: Record<string, string> = {}): number {
  const ms = loadConfig(TrainerConfigSchema, trainerEnv).TRAINER_CHECKPOINT_EVERY_MS;
  return ms > 0 ? ms / 1000 : 30;
}

/**
 * The steps committed in the checkpoint interval before the fault, plus two: a checkpoint is taken
 * after the first step past the interval, so one step more may separate two checkpoints, and the
 * step in flight at the fault may have been committed as it struck.
 */
export function checkpointBound(steps: JobSteps, faultStart: number, trainerEnv: Record<string, string> = {}): number {
  return steps.countBetween(faultStart - checkpointIntervalSec(trainerEnv) * 1000, faultStart) + 2;
}
