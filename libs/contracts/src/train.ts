import { z } from 'zod';
import { DatasetNameSchema, IdSchema, ModelArchSchema, ModelNameSchema, Sha256Schema } from './common';
import { ExchangeSchemeSchema, type ExchangeScheme } from './dp';

/**
 * Seeded data augmentation: each training sample is drawn with a random rotation, shift, scale
 * and stroke thickness that depend only on (seed, epoch, sample index), so every replica of a
 * data-parallel group sees the same images.
 */
export const AugmentSchema = z
  .object({
    /** Largest rotation either way, in degrees. */
    rotateDeg: z.number().min(0).max(45).default(10),
    /** Largest shift along each axis, in pixels. */
    shiftPx: z.number().min(0).max(6).default(2),
    /** Largest relative change of size (0.1: 90% to 110%). */
    scale: z.number().min(0).max(0.4).default(0.1),
    /** Chance that a sample's strokes are made thicker or thinner. */
    strokeProb: z.number().min(0).max(1).default(0.3),
  })
  .strict();
export type Augment = z.infer<typeof AugmentSchema>;

export const OptimizerNameSchema = z.enum(['adam', 'sgd']);
export const LrScheduleSchema = z.enum(['constant', 'step', 'cosine', 'one-cycle']);
export type LrSchedule = z.infer<typeof LrScheduleSchema>;

export const HyperparamsSchema = z
  .object({
    arch: ModelArchSchema.default('cnn-small'),
    epochs: z.number().int().min(1).max(200).default(2),
    batchSize: z.number().int().min(1).max(4096).default(64),
    /** The peak learning rate; a schedule moves it per step. */
    learningRate: z.number().positive().max(1).default(0.003),
    optimizer: OptimizerNameSchema.default('adam'),
    /** Momentum of `optimizer: sgd` (Nesterov). */
    momentum: z.number().min(0).max(0.999).default(0.9),
    /** constant; step (× lrStepGamma every lrStepEpochs); cosine to 0; one-cycle (warm up over lrWarmupShare, then cosine). */
    lrSchedule: LrScheduleSchema.default('constant'),
    lrStepEpochs: z.number().int().min(1).default(1),
    lrStepGamma: z.number().positive().max(1).default(0.5),
    lrWarmupShare: z.number().min(0).max(0.9).default(0.2),
    /** Augment the training samples (absent: train on the images as they are). */
    augment: AugmentSchema.optional(),
    seed: z.number().int().nonnegative().default(42),
    /** Train on the first N samples of the train split (0 = all): small defaults keep laptops fast. */
    trainSubset: z.number().int().nonnegative().default(0),
    /** Evaluate on the first N samples of the test split (0 = all). */
    testSubset: z.number().int().nonnegative().default(0),
    /** Share of the (subset) train split held out for per-epoch validation. */
    validationShare: z.number().min(0).max(0.5).default(0.1),
    /** Gradient exchange between replicas: float32, half precision, or top-k with error feedback. */
    compression: z.enum(['none', 'fp16', 'topk']).default('none'),
    /** Share of gradient entries sent per step with `compression: topk`. */
    topkRatio: z.number().positive().max(1).default(0.01),
    /**
     * How replicas combine gradients: through the coordinator, or a ring all-reduce (bandwidth-optimal:
     * 2(N-1)/N of a gradient over every member's link, where coordinator-reduce puts N-1 through one).
     * The ring sends float32 only (compression none).
     */
    exchange: ExchangeSchemeSchema.default('coordinator'),
  })
  .strict();
export type Hyperparams = z.infer<typeof HyperparamsSchema>;

/** Settings that parse one by one but do not go together, said in one sentence (undefined: none). */
export function hyperparamsConflict(hp: Pick<Hyperparams, 'exchange' | 'compression'>): string | undefined {
  if (hp.exchange === 'ring' && hp.compression !== 'none') return `exchange "ring" sends float32 gradients: use compression "none" with it (got "${hp.compression}")`;
  return undefined;
}

/** The exchange a job's group runs: the ring only where it applies (an older message may still combine it with compression). */
export const exchangeSchemeOf = (hp: Pick<Hyperparams, 'exchange' | 'compression'>): ExchangeScheme => (hyperparamsConflict(hp) ? 'coordinator' : hp.exchange);

/** Augmentation of the recipes: a little stronger than the schema's defaults, for digits drawn in a browser. */
const DRAWN_DIGITS_AUGMENT = { rotateDeg: 20, shiftPx: 3, scale: 0.15, strokeProb: 0.6 };

/**
 * Named starting points for a job's hyperparameters (a job's own values override them).
 *  - fast: the default for automatic retraining and the demo; ≥ 99% on MNIST in a few minutes of
 *    two replicas on a laptop (measured in docs/benchmarks-train.md).
 *  - quality: the longer recipe of docs/benchmarks-train.md for ≥ 99.4%.
 *  - plain: the schema's defaults (cnn-small, constant rate, no augmentation): quick tests.
 */
export const RECIPES = {
  plain: {},
  // Global batch 128: each of two replicas computes 64, where a step's fixed costs stop dominating.
  fast: { arch: 'cnn-wide', epochs: 4, batchSize: 128, learningRate: 0.005, lrSchedule: 'one-cycle', augment: DRAWN_DIGITS_AUGMENT },
  quality: { arch: 'cnn-deep', epochs: 12, batchSize: 128, learningRate: 0.005, lrSchedule: 'one-cycle', augment: DRAWN_DIGITS_AUGMENT },
} as const satisfies Record<string, z.input<typeof HyperparamsSchema>>;
export type RecipeName = keyof typeof RECIPES;
export const RECIPE_NAMES = Object.keys(RECIPES) as [RecipeName, ...RecipeName[]];

/** Marks a job as one trial of a sweep (travels with the job's events so the registry can file it). */
export const TrialRefSchema = z.object({ sweepId: IdSchema, trial: z.number().int().nonnegative() }).strict();
export type TrialRef = z.infer<typeof TrialRefSchema>;

export const TriggerSchema = z
  .object({
    kind: z.enum(['manual', 'new-data', 'drift', 'initial']),
    reason: z.string().min(1),
  })
  .strict();
export type Trigger = z.infer<typeof TriggerSchema>;

export const JobStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatusSchema>;

export const TrainJobRequestedSchema = z
  .object({
    jobId: IdSchema,
    modelName: ModelNameSchema,
    dataset: DatasetNameSchema,
    datasetVersion: Sha256Schema,
    hyperparams: HyperparamsSchema,
    replicas: z.number().int().min(1).max(64),
    /** 0: the replica that coordinates the group and reports; 1..replicas-1: workers joining it. */
    rank: z.number().int().nonnegative().default(0),
    trigger: TriggerSchema,
    sweep: TrialRefSchema.optional(),
    /** The champion when the job was created: the trainer scores it on the same test split, for a fair gate. */
    baseline: z.object({ version: z.number().int().positive(), artefactPrefix: z.string().min(1) }).strict().optional(),
    /**
     * The secret of the job's training group (32 random bytes, base64url), made with the job: every
     * group frame carries an HMAC with it, so only holders of this message can speak in the group.
     * Optional only for jobs queued before it existed (their groups run unsealed).
     */
    groupKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a group key is 32 bytes, base64url').optional(),
  })
  .strict();
export type TrainJobRequested = z.infer<typeof TrainJobRequestedSchema>;

export const TrainJobStartedSchema = z
  .object({
    jobId: IdSchema,
    modelName: ModelNameSchema,
    replicaId: z.string().min(1),
    attempt: z.number().int().min(1),
    backend: z.string().min(1),
    resumedFromEpoch: z.number().int().nonnegative(),
    /** Steps already applied when the attempt began: a resume by time-based checkpoint may start mid-epoch. */
    resumedFromStep: z.number().int().nonnegative().optional(),
    hyperparams: HyperparamsSchema,
    datasetVersion: Sha256Schema,
    codeVersion: z.string().min(1),
    sweep: TrialRefSchema.optional(),
  })
  .strict();
export type TrainJobStarted = z.infer<typeof TrainJobStartedSchema>;

export const EpochMetricsSchema = z
  .object({
    epoch: z.number().int().min(1),
    epochs: z.number().int().min(1),
    loss: z.number(),
    accuracy: z.number().min(0).max(1),
    valLoss: z.number().optional(),
    valAccuracy: z.number().min(0).max(1).optional(),
    samplesPerSec: z.number().nonnegative(),
    seconds: z.number().nonnegative(),
  })
  .strict();
export type EpochMetrics = z.infer<typeof EpochMetricsSchema>;

export const TrainJobProgressSchema = z
  .object({
    jobId: IdSchema,
    replicaId: z.string().min(1),
    attempt: z.number().int().min(1),
    metrics: EpochMetricsSchema,
    checkpointKey: z.string().min(1),
    /** Replicas that trained the epoch's last step (data-parallel jobs). */
    members: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type TrainJobProgress = z.infer<typeof TrainJobProgressSchema>;

export const EvaluationSchema = z
  .object({
    testAccuracy: z.number().min(0).max(1),
    testSamples: z.number().int().positive(),
    perClassAccuracy: z.array(z.number().min(0).max(1)).length(10),
    confusionMatrix: z.array(z.array(z.number().int().nonnegative()).length(10)).length(10),
    /** Accuracy on the test split rotated, shifted, rescaled and re-stroked (seeded): closer to drawn digits than MNIST. */
    transformedTestAccuracy: z.number().min(0).max(1).optional(),
  })
  .strict();
export type Evaluation = z.infer<typeof EvaluationSchema>;

export const ModelArtefactsSchema = z
  .object({
    /** Store prefix holding model.json, weights.bin, confusion.json and model-card.md. */
    prefix: z.string().min(1),
    modelJsonKey: z.string().min(1),
    weightsKey: z.string().min(1),
    /** model.onnx, present only when the export was verified against tfjs (see `onnx`). */
    onnxKey: z.string().min(1).optional(),
  })
  .strict();
export type ModelArtefacts = z.infer<typeof ModelArtefactsSchema>;

/**
 * A version's ONNX export: verified (its outputs matched tfjs's on a sample batch, and model.onnx
 * is stored), or absent with the reason (a layer with no translation, a mismatch, no onnxruntime).
 */
export const OnnxExportSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('verified'), maxAbsDiff: z.number().nonnegative(), tolerance: z.number().positive(), samples: z.number().int().positive(), opset: z.number().int().positive() }).strict(),
  z.object({ status: z.literal('absent'), reason: z.string().min(1).max(1000) }).strict(),
]);
export type OnnxExport = z.infer<typeof OnnxExportSchema>;

export const TrainJobCompletedSchema = z
  .object({
    jobId: IdSchema,
    modelName: ModelNameSchema,
    replicaId: z.string().min(1),
    dataset: DatasetNameSchema,
    datasetVersion: Sha256Schema,
    trainSamples: z.number().int().positive(),
    hyperparams: HyperparamsSchema,
    backend: z.string().min(1),
    codeVersion: z.string().min(1),
    evaluation: EvaluationSchema,
    history: z.array(EpochMetricsSchema),
    artefacts: ModelArtefactsSchema,
    /** Optional: completions from before the ONNX export have none (the registry records it as absent). */
    onnx: OnnxExportSchema.optional(),
    durationSec: z.number().nonnegative(),
    sweep: TrialRefSchema.optional(),
    /** The job's baseline (the champion it was created under), evaluated on this job's test split. */
    baselineEvaluation: z
      .object({ version: z.number().int().positive(), testAccuracy: z.number().min(0).max(1), perClassAccuracy: z.array(z.number().min(0).max(1)).length(10) })
      .strict()
      .optional(),
    distributed: z
      .object({
        replicasRequested: z.number().int().min(1),
        finalMembers: z.array(z.string().min(1)),
        membershipChanges: z.number().int().nonnegative(),
        bytesPerStep: z.number().nonnegative(),
        exchangeShare: z.number().min(0).max(1),
      })
      .strict()
      .optional(),
  })
  .strict();
export type TrainJobCompleted = z.infer<typeof TrainJobCompletedSchema>;

export const TrainJobFailedSchema = z
  .object({
    jobId: IdSchema,
    replicaId: z.string().min(1),
    attempt: z.number().int().min(1),
    error: z.string().min(1),
    retryable: z.boolean(),
  })
  .strict();
export type TrainJobFailed = z.infer<typeof TrainJobFailedSchema>;

export const TrainJobCancelRequestedSchema = z.object({ jobId: IdSchema, reason: z.string().min(1) }).strict();
export type TrainJobCancelRequested = z.infer<typeof TrainJobCancelRequestedSchema>;

export const TrainJobCancelledSchema = z
  .object({ jobId: IdSchema, replicaId: z.string().min(1), atEpoch: z.number().int().nonnegative() })
  .strict();
export type TrainJobCancelled = z.infer<typeof TrainJobCancelledSchema>;

/** A data-parallel group changed: formed, a replica joined at a step boundary, or one was dropped. */
export const TrainGroupChangedSchema = z
  .object({
    jobId: IdSchema,
    group: z.string().min(1),
    change: z.enum(['formed', 'joined', 'dropped']),
    replica: z.string().min(1),
    reason: z.string().min(1),
    step: z.number().int().nonnegative(),
    epoch: z.number().int().min(1),
    members: z.array(z.string().min(1)),
  })
  .strict();
export type TrainGroupChanged = z.infer<typeof TrainGroupChangedSchema>;
