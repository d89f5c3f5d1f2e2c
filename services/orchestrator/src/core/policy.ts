import type { DatasetVersion, Trigger } from '@mlpipe/contracts';

export interface ChampionSnapshot {
  version: number;
  trainSamples: number;
  datasetVersion: string;
}

export interface RetrainContext {
  latest: DatasetVersion;
  champion: ChampionSnapshot | null;
  /** A job for this model is queued or running. */
  activeJob: boolean;
  /** A job already exists for exactly this dataset version (whatever its state). */
  jobExistsForVersion: boolean;
  minNewSamples: number;
  enabled: boolean;
}

export type RetrainDecision = { start: true; trigger: Trigger } | { start: false; reason: string };

/**
 * The retraining policy: train when there is no champion yet, or when enough new labelled
 * train samples arrived since the data the champion was trained on.
 */
export function decideRetrain(ctx: RetrainContext): RetrainDecision {
  const { latest, champion } = ctx;
  if (!ctx.enabled) return { start: false, reason: 'automatic retraining is disabled' };
  if (latest.trainSamples === 0 || latest.testSamples === 0) {
    return { start: false, reason: `dataset version ${short(latest.id)} lacks a ${latest.trainSamples ? 'test' : 'train'} split` };
  }
  if (ctx.jobExistsForVersion) return { start: false, reason: `a job already exists for dataset version ${short(latest.id)}` };
  if (ctx.activeJob) return { start: false, reason: 'a job for this model is already queued or running; re-checked when it ends' };
  if (!champion) {
    return {
      start: true,
      trigger: { kind: 'initial', reason: `no champion yet; ${latest.trainSamples} train samples available` },
    };
  }
  const fresh = latest.trainSamples - champion.trainSamples;
  if (fresh < ctx.minNewSamples) {
    return {
      start: false,
      reason: `${fresh} new train samples since champion v${champion.version} (threshold ${ctx.minNewSamples})`,
    };
  }
  return {
    start: true,
    trigger: {
      kind: 'new-data',
      reason: `${fresh} new train samples since champion v${champion.version} (threshold ${ctx.minNewSamples})`,
    },
  };
}

const short = (id: string) => id.slice(0, 12);
