import { z } from 'zod';
import { ClassCountsSchema, DatasetNameSchema, IdSchema, Sha256Schema, SplitSchema } from './common';

/** What a dataset version is: the set of validated batches of one dataset, per split. */
export const DatasetVersionSchema = z
  .object({
    id: Sha256Schema,
    dataset: DatasetNameSchema,
    trainBatches: z.array(Sha256Schema),
    testBatches: z.array(Sha256Schema),
    trainSamples: z.number().int().nonnegative(),
    testSamples: z.number().int().nonnegative(),
  })
  .strict();
export type DatasetVersion = z.infer<typeof DatasetVersionSchema>;

export const BatchValidatedSchema = z
  .object({
    batchId: IdSchema,
    sourcePrefix: z.string().min(1),
    dataset: DatasetNameSchema,
    split: SplitSchema,
    contentHash: Sha256Schema,
    samples: z.number().int().positive(),
    classCounts: ClassCountsSchema,
    normalisedPrefix: z.string().min(1),
    warnings: z.array(z.string()),
    datasetVersion: DatasetVersionSchema,
  })
  .strict();
export type BatchValidated = z.infer<typeof BatchValidatedSchema>;

export const BatchRejectedSchema = z
  .object({
    batchId: IdSchema,
    sourcePrefix: z.string().min(1),
    reasons: z.array(z.string()).min(1),
  })
  .strict();
export type BatchRejected = z.infer<typeof BatchRejectedSchema>;

export const DriftTestSchema = z
  .object({
    name: z.string().min(1),
    kind: z.enum(['ks', 'chi-square']),
    statistic: z.number(),
    pValue: z.number().min(0).max(1),
    psi: z.number(),
    drifted: z.boolean(),
  })
  .strict();

/** The inputs or predictions a model version saw drifted from its training data, with the evidence. */
export const DriftDetectedSchema = z
  .object({
    modelName: z.string().min(1),
    modelVersion: z.number().int().positive(),
    /** The training data the window was compared with. */
    referenceDatasetVersion: Sha256Schema,
    window: z.object({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }), samples: z.number().int().positive() }).strict(),
    reasons: z.array(z.string().min(1)).min(1),
    tests: z.array(DriftTestSchema),
  })
  .strict();
export type DriftDetected = z.infer<typeof DriftDetectedSchema>;
