import { z } from 'zod';
import { ClassCountsSchema, DatasetNameSchema, IdSchema, Sha256Schema, SplitSchema } from './common';
import { storeKeys } from './keys';

/**
 * A dataset version's manifest: the set of validated batches of one dataset, per split, in order.
 * Stored whole at storeKeys.datasetVersion (written before the event that announces it); the
 * trainer and the drift monitor read it. Its id is the SHA-256 of its dataset and batch lists.
 */
export const DatasetManifestSchema = z
  .object({
    id: Sha256Schema,
    dataset: DatasetNameSchema,
    trainBatches: z.array(Sha256Schema),
    testBatches: z.array(Sha256Schema),
    trainSamples: z.number().int().nonnegative(),
    testSamples: z.number().int().nonnegative(),
  })
  .strict();
export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;

/**
 * What events carry of a dataset version: its counts and where its manifest is, never the batch
 * list (carried in every event, that grew O(n²) and passed NATS's payload limit near 15k batches).
 * The key must be the version's own manifest, so no event can steer a reader elsewhere in the store.
 */
export const DatasetVersionCountsSchema = z.object({
  id: Sha256Schema,
  dataset: DatasetNameSchema,
  trainSamples: z.number().int().nonnegative(),
  testSamples: z.number().int().nonnegative(),
  trainBatchCount: z.number().int().nonnegative(),
  testBatchCount: z.number().int().nonnegative(),
});

export const DatasetVersionSchema = DatasetVersionCountsSchema.extend({
  manifestKey: z.string().min(1),
  /** SHA-256 of the manifest object's bytes, as stored. */
  manifestSha256: Sha256Schema,
})
  .strict()
  .refine((v) => v.manifestKey === storeKeys.datasetVersion(v.dataset, v.id), {
    message: "manifestKey must be the dataset version's own manifest key",
    path: ['manifestKey'],
  });
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
    window: z
      .object({
        from: z.iso.datetime({ offset: true }),
        to: z.iso.datetime({ offset: true }),
        samples: z.number().int().positive(),
      })
      .strict(),
    reasons: z.array(z.string().min(1)).min(1),
    tests: z.array(DriftTestSchema),
  })
  .strict();
export type DriftDetected = z.infer<typeof DriftDetectedSchema>;
