import type { Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import type { EpochMetrics, TrainJobRequested } from '@mlpipe/contracts';
import type { ObjectStore } from '@mlpipe/storage';
import { DEFAULT_DP_SETTINGS, type DpSettings, type DroppedFrame } from '../adapters/distributed';
import type { StepTiming } from '../adapters/dpWorker';
import type { Receipt } from '../core/group';

/** What running a job needs from the replica. */
export interface RunnerDeps {
  bus: Bus;
  store: ObjectStore;
  logger: Logger;
  replicaId: string;
  backend: string;
  codeVersion: string;
  onEpochMetrics?: (jobId: string, m: EpochMetrics) => void;
  onStepTiming?: (jobId: string, t: StepTiming) => void;
  onGradientReceipt?: (r: Receipt) => void;
  /** A group frame or gradient dropped unread (forged, malformed, not finite, a wrong count). */
  onFrameDropped?: (why: DroppedFrame) => void;
  /** A member's ring all-reduce failed and its step went through the coordinator. */
  onRingFallback?: (reason: string, step: number) => void;
  dp?: DpSettings;
  /** Checkpoint mid-epoch once the last checkpoint is this old (0: at epoch ends only). */
  checkpointEveryMs?: number;
}

export const DEFAULT_CHECKPOINT_EVERY_MS = 30_000;

/**
 * How long a job's events keep trying to reach their stream (each has a deterministic id, so a
 * retry that did land is a duplicate): as long as the group sits out an outage.
 */
export function eventPatienceMs(deps: RunnerDeps): number {
  return deps.dp?.outageToleranceMs ?? DEFAULT_DP_SETTINGS.outageToleranceMs;
}

/** One attempt of one job, with the replica's stop signal and the job message's heartbeat. */
export interface RunOptions {
  job: TrainJobRequested;
  attempt: number;
  signal: AbortSignal;
  heartbeat: () => void;
}
