import { z } from 'zod';
import { DatasetNameSchema, IdSchema, ModelArchSchema, ModelNameSchema, Sha256Schema, TimestampSchema } from './common';
import { EpochMetricsSchema, HyperparamsSchema, JobStatusSchema, LrScheduleSchema, OptimizerNameSchema } from './train';

/** A value range to sample from (random search), on a log scale by default for rates. */
const RangeSchema = z
  .object({ min: z.number().positive(), max: z.number().positive(), scale: z.enum(['log', 'linear']).default('log') })
  .strict()
  .refine((r) => r.min <= r.max, 'min must not exceed max');

/** What a sweep varies: lists (grid or random choice) or, for the learning rate, a range (random only). */
export const SweepSpaceSchema = z
  .object({
    arch: z.array(ModelArchSchema).min(1).optional(),
    learningRate: z.union([z.array(z.number().positive().max(1)).min(1), RangeSchema]).optional(),
    batchSize: z.array(z.number().int().min(1).max(4096)).min(1).optional(),
    epochs: z.array(z.number().int().min(1).max(200)).min(1).optional(),
    optimizer: z.array(OptimizerNameSchema).min(1).optional(),
    lrSchedule: z.array(LrScheduleSchema).min(1).optional(),
  })
  .strict()
  .refine((s) => Object.keys(s).length > 0, 'the search space varies nothing');
export type SweepSpace = z.infer<typeof SweepSpaceSchema>;

export const EarlyStoppingSchema = z
  .object({
    /** median: stop a trial whose validation accuracy is below the median of the others at the same epoch.
     *  successive-halving: at epochs minEpochs·eta^k keep only the best 1/eta of the trials that got there. */
    rule: z.enum(['none', 'median', 'successive-halving']).default('median'),
    /** No trial is judged before this epoch. */
    minEpochs: z.number().int().min(1).default(1),
    /** Trials (including the judged one) that must have reached the epoch before the median rule applies. */
    minTrials: z.number().int().min(2).default(3),
    eta: z.number().int().min(2).default(2),
  })
  .strict();
export type EarlyStopping = z.infer<typeof EarlyStoppingSchema>;

export const SweepSpecSchema = z
  .object({
    strategy: z.enum(['grid', 'random']).default('grid'),
    space: SweepSpaceSchema,
    /** Random search: how many trials to draw. A grid runs every combination. */
    trials: z.number().int().min(1).max(100).default(8),
    /** Seeds the random draws (each trial also trains with its own hyperparameters' seed). */
    seed: z.number().int().nonnegative().default(1),
    earlyStopping: EarlyStoppingSchema.default({ rule: 'median', minEpochs: 1, minTrials: 3, eta: 2 }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.strategy === 'grid' && s.space.learningRate && !Array.isArray(s.space.learningRate)) {
      ctx.addIssue({ code: 'custom', message: 'a grid needs a list of learning rates, not a range', path: ['space', 'learningRate'] });
    }
  });
export type SweepSpec = z.infer<typeof SweepSpecSchema>;

export const SubmitSweepRequestSchema = z
  .object({
    modelName: ModelNameSchema.default('mnist'),
    dataset: DatasetNameSchema.default('mnist'),
    datasetVersion: Sha256Schema.optional(),
    /** Hyperparameters every trial shares; the sweep's space overrides them per trial. */
    hyperparams: HyperparamsSchema.partial().default({}),
    sweep: SweepSpecSchema,
    reason: z.string().min(1).default('sweep submitted by hand'),
    /** The principal asking (filled by the UI from its session); quotas count per principal, "anonymous" when absent. */
    submittedBy: z.string().min(1).max(200).optional(),
  })
  .strict();

export const SweepStatusSchema = z.enum(['running', 'succeeded', 'failed']);

export const SweepTrialSchema = z
  .object({
    trial: z.number().int().nonnegative(),
    jobId: IdSchema,
    hyperparams: HyperparamsSchema,
    status: JobStatusSchema,
    statusReason: z.string().nullable(),
    valAccuracy: z.number().min(0).max(1).nullable(),
    epochs: z.number().int().nonnegative(),
    pruned: z.boolean(),
    /** Its per-epoch metrics (the curve), the last report of each epoch; absent from older orchestrators. */
    history: z.array(EpochMetricsSchema).optional(),
  })
  .strict();
export type SweepTrial = z.infer<typeof SweepTrialSchema>;

export const SweepSchema = z
  .object({
    sweepId: IdSchema,
    modelName: ModelNameSchema,
    dataset: DatasetNameSchema,
    datasetVersion: Sha256Schema,
    spec: SweepSpecSchema,
    status: SweepStatusSchema,
    statusReason: z.string().nullable(),
    bestJobId: IdSchema.nullable(),
    trials: z.array(SweepTrialSchema),
    createdAt: TimestampSchema,
  })
  .strict();
export type Sweep = z.infer<typeof SweepSchema>;

/** Every trial ended: the best (by validation accuracy) goes to the registry's gate, the others stay runs. */
export const SweepCompletedSchema = z
  .object({
    sweepId: IdSchema,
    modelName: ModelNameSchema,
    bestJobId: IdSchema.nullable(),
    reason: z.string().min(1),
    trials: z.array(z.object({ jobId: IdSchema, trial: z.number().int().nonnegative(), status: JobStatusSchema, valAccuracy: z.number().nullable(), pruned: z.boolean() }).strict()),
    spec: SweepSpecSchema,
  })
  .strict();
export type SweepCompleted = z.infer<typeof SweepCompletedSchema>;
