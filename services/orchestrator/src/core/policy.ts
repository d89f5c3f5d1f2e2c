import type { DatasetVersion, Trigger } from '@mlpipe/contracts';

export interface ChampionSnapshot {
  version: number;
  trainSamples: number;
  datasetVersion: string;
  /** Where its model lives (null for versions recorded before this was kept). */
  artefactPrefix?: string | null;
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
  /** Unresolved drift reported on the champion's predictions, if any. */
  drift?: { version: number; reasons: string[] } | null;
  /** With drift, this many new labelled samples are enough to retrain. */
  minNewSamplesOnDrift?: number;
}

/** What is known of the model and its data when the policy looks; the rest of the context is settings. */
export type RetrainFacts = Pick<RetrainContext, 'latest' | 'champion' | 'activeJob' | 'jobExistsForVersion' | 'drift'>;

export type RetrainDecision = { start: true; trigger: Trigger } | { start: false; reason: string };

/**
 * The retraining policy: train when there is no champion yet, when enough new labelled train
 * samples arrived since the data the champion was trained on, or, once the champion's inputs or
 * predictions drifted, as soon as a smaller amount of new labelled data can teach the new model
 * the shift (retraining on the same data would learn nothing new).
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
  const drift = ctx.drift && ctx.drift.version === champion.version ? ctx.drift : null;
  if (drift) {
    const needed = ctx.minNewSamplesOnDrift ?? ctx.minNewSamples;
    const evidence = `drift on champion v${champion.version} (${drift.reasons.slice(0, 2).join('; ')})`;
    if (fresh >= needed) {
      return { start: true, trigger: { kind: 'drift', reason: `${evidence}; ${fresh} new labelled train samples to learn it from` } };
    }
    return { start: false, reason: `${evidence}, but ${fresh} new labelled train samples (need ${needed}): waiting for labelled data` };
  }
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
