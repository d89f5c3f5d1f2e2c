import { z } from 'zod';
import { DatasetNameSchema, SplitSchema } from './common';

/**
 * Object-store layout shared by every service. Keys are built only here, from validated ids,
 * so no request or event can steer a write outside its place.
 */
export const storeKeys = {
  /** Where people (and `mlpipe-data seed`) drop labelled batches; one folder per batch. */
  incomingBatchManifest: (prefix: string, batch: string) => `${prefix}${batch}/batch.json`,
  normalisedBatch: (dataset: string, contentHash: string) => `datasets/${dataset}/batches/${contentHash}/`,
  datasetVersion: (dataset: string, versionId: string) => `datasets/${dataset}/versions/${versionId}.json`,
  checkpointDir: (jobId: string, epoch: number) => `checkpoints/${jobId}/epoch-${String(epoch).padStart(4, '0')}/`,
  /** Written last, after the checkpoint files: a checkpoint exists only once this points at it. */
  checkpointPointer: (jobId: string) => `checkpoints/${jobId}/latest.json`,
  modelArtefacts: (modelName: string, jobId: string) => `models/${modelName}/${jobId}/`,
  /** Sampled predictions, JSON lines, one object per flush of one gateway replica. */
  predictionLogDir: (modelName: string) => `predictions/${modelName}/`,
  predictionLog: (modelName: string, day: string, name: string) => `predictions/${modelName}/${day}/${name}.jsonl`,
} as const;

/** One sampled prediction (a line of a prediction log): enough to trace it and to test inputs for drift. */
export const PredictionRecordSchema = z
  .object({
    predictionId: z.string().min(1).max(64),
    at: z.iso.datetime({ offset: true }),
    model: z.string().min(1),
    version: z.number().int().positive(),
    /** champion or challenger served it; shadow: the challenger scored it, unseen by the caller. */
    variant: z.enum(['champion', 'challenger', 'pinned', 'named', 'shadow']),
    class: z.number().int().min(0).max(9),
    confidence: z.number().min(0).max(1),
    /** The 28×28 input the model saw, base64 bytes. */
    input28: z.string().min(1),
  })
  .strict();
export type PredictionRecord = z.infer<typeof PredictionRecordSchema>;

/** Normalised batch files, inside storeKeys.normalisedBatch(). */
export const NORMALISED_FILES = { images: 'images.idx', labels: 'labels.idx', manifest: 'manifest.json' } as const;

/**
 * `batch.json`: the commit marker of an incoming batch, written after its data files. Its
 * presence says the batch is complete; it names the files and (optionally) their SHA-256.
 */
export const IncomingBatchManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    dataset: DatasetNameSchema,
    split: SplitSchema,
    format: z.enum(['idx', 'png-csv']),
    /** idx: { images, labels } file names; png-csv: { labels } CSV of "file,label" rows. */
    files: z.record(z.string(), z.string().min(1)),
    sha256: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)).optional(),
    note: z.string().optional(),
  })
  .strict();
export type IncomingBatchManifest = z.infer<typeof IncomingBatchManifestSchema>;

export const CheckpointPointerSchema = z
  .object({
    jobId: z.string(),
    epoch: z.number().int().min(1),
    prefix: z.string(),
    history: z.array(z.unknown()),
    writtenAt: z.string(),
  })
  .strict();
export type CheckpointPointer = z.infer<typeof CheckpointPointerSchema>;
