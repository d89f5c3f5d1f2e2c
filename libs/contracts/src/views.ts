import { z } from 'zod';
import {
  ClassCountsSchema,
  DatasetNameSchema,
  IdSchema,
  ModelNameSchema,
  Sha256Schema,
  SplitSchema,
  TimestampSchema,
} from './common';
import { DatasetVersionCountsSchema, DriftTestSchema } from './data';
import { JobStatusSchema } from './train';

/**
 * Read views for the web UI's data, drift and sweep pages: what the dataset watcher and the
 * orchestrator remember, answered over request/reply (REQUESTS). Nothing here changes state.
 */

/** A batch the watcher has looked at: validated (with what it holds) or rejected (with every reason). */
export const BatchRecordSchema = z
  .object({
    sourcePrefix: z.string().min(1),
    batchId: z.string().min(1),
    status: z.enum(['validated', 'rejected']),
    dataset: DatasetNameSchema.nullable(),
    split: SplitSchema.nullable(),
    contentHash: Sha256Schema.nullable(),
    samples: z.number().int().nonnegative().nullable(),
    classCounts: ClassCountsSchema.nullable(),
    reasons: z.array(z.string()),
    warnings: z.array(z.string()),
    processedAt: TimestampSchema,
  })
  .strict();
export type BatchRecord = z.infer<typeof BatchRecordSchema>;

export const ListBatchesRequestSchema = z
  .object({
    status: z.enum(['validated', 'rejected']).optional(),
    limit: z.number().int().min(1).max(500).default(100),
  })
  .strict();

/** A dataset version as the watcher made it: its counts, newest first. */
export const DatasetVersionRecordSchema = DatasetVersionCountsSchema.extend({
  createdAt: TimestampSchema,
}).strict();
export type DatasetVersionRecord = z.infer<typeof DatasetVersionRecordSchema>;

export const ListDatasetVersionsRequestSchema = z
  .object({ dataset: DatasetNameSchema.optional(), limit: z.number().int().min(1).max(200).default(50) })
  .strict();

/** What one dataset version holds: its batches per split (from its manifest), each with where it came from. */
export const DatasetVersionContentsSchema = z
  .object({
    version: DatasetVersionRecordSchema,
    batches: z.array(
      z
        .object({
          split: SplitSchema,
          contentHash: Sha256Schema,
          sourcePrefix: z.string().nullable(),
          samples: z.number().int().nonnegative().nullable(),
          classCounts: ClassCountsSchema.nullable(),
        })
        .strict(),
    ),
  })
  .strict();
export type DatasetVersionContents = z.infer<typeof DatasetVersionContentsSchema>;

/** One judged window of sampled predictions of a model version, drifted or not, with every test. */
export const DriftWindowSchema = z
  .object({
    modelName: ModelNameSchema,
    modelVersion: z.number().int().positive(),
    from: TimestampSchema,
    to: TimestampSchema,
    samples: z.number().int().positive(),
    drifted: z.boolean(),
    reasons: z.array(z.string()),
    tests: z.array(DriftTestSchema),
    /** The `data.drift.detected` event's id when the window drifted: the orchestrator's drift alerts carry the same. */
    eventId: z.string().nullable(),
    judgedAt: TimestampSchema,
  })
  .strict();
export type DriftWindow = z.infer<typeof DriftWindowSchema>;

export const ListDriftWindowsRequestSchema = z
  .object({ modelName: ModelNameSchema.optional(), limit: z.number().int().min(1).max(1000).default(200) })
  .strict();

/** A drift report the orchestrator received, and the retraining job that answered it (null while open). */
export const DriftAlertSchema = z
  .object({
    eventId: z.string().min(1),
    modelName: ModelNameSchema,
    modelVersion: z.number().int().positive(),
    reasons: z.array(z.string()),
    detectedAt: TimestampSchema,
    retrainJob: z
      .object({
        jobId: IdSchema,
        status: JobStatusSchema,
        modelVersion: z.number().int().positive().nullable(),
        trigger: z.string(),
      })
      .strict()
      .nullable(),
  })
  .strict();
export type DriftAlert = z.infer<typeof DriftAlertSchema>;

export const ListDriftAlertsRequestSchema = z
  .object({ modelName: ModelNameSchema.optional(), limit: z.number().int().min(1).max(500).default(100) })
  .strict();
