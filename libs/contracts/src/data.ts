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
