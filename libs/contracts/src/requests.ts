import { z } from 'zod';
import { DatasetNameSchema, IdSchema, ModelNameSchema, Sha256Schema, TimestampSchema } from './common';
import { EpochMetricsSchema, HyperparamsSchema, JobStatusSchema, TrialRefSchema, TriggerSchema } from './train';
import { SubmitSweepRequestSchema, SweepSchema } from './sweep';
import {
  BatchRecordSchema,
  DatasetVersionContentsSchema,
  DatasetVersionRecordSchema,
  DriftAlertSchema,
  DriftWindowSchema,
  ListBatchesRequestSchema,
  ListDatasetVersionsRequestSchema,
  ListDriftAlertsRequestSchema,
  ListDriftWindowsRequestSchema,
} from './views';

/** Request/reply endpoints on core NATS (namespaced like events); each has a request and a reply schema. */

export const JobSchema = z
  .object({
    jobId: IdSchema,
    modelName: ModelNameSchema,
    dataset: DatasetNameSchema,
    datasetVersion: Sha256Schema,
    hyperparams: HyperparamsSchema,
    replicas: z.number().int().min(1),
    trigger: TriggerSchema,
    status: JobStatusSchema,
    statusReason: z.string().nullable(),
    attempts: z.number().int().nonnegative(),
    lastProgress: EpochMetricsSchema.nullable(),
    modelVersion: z.number().int().positive().nullable(),
    sweep: TrialRefSchema.nullable(),
    /** Who asked for it (absent for automatic jobs and for jobs from before principals were kept). */
    submittedBy: z.string().min(1).max(200).optional(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .strict();
export type Job = z.infer<typeof JobSchema>;

export const SubmitJobRequestSchema = z
  .object({
    modelName: ModelNameSchema.default('mnist'),
    dataset: DatasetNameSchema.default('mnist'),
    /** Defaults to the newest dataset version the orchestrator knows. */
    datasetVersion: Sha256Schema.optional(),
    hyperparams: HyperparamsSchema.partial().default({}),
    replicas: z.number().int().min(1).max(64).default(1),
    reason: z.string().min(1).default('submitted by hand'),
    /** The principal asking (filled by the UI from its session); quotas count per principal, "anonymous" when absent. */
    submittedBy: z.string().min(1).max(200).optional(),
  })
  .strict();
export type SubmitJobRequest = z.input<typeof SubmitJobRequestSchema>;

export const ListJobsRequestSchema = z
  .object({ status: JobStatusSchema.optional(), limit: z.number().int().min(1).max(500).default(50) })
  .strict();
export const GetJobRequestSchema = z.object({ jobId: IdSchema }).strict();
export const CancelJobRequestSchema = z.object({ jobId: IdSchema, reason: z.string().min(1).default('cancelled by hand') }).strict();

export const ErrorBodySchema = z.object({ code: z.string(), message: z.string() }).strict();

export const REQUESTS = {
  'orchestrator.jobs.submit': { request: SubmitJobRequestSchema, reply: JobSchema },
  'orchestrator.jobs.list': { request: ListJobsRequestSchema, reply: z.object({ jobs: z.array(JobSchema) }).strict() },
  'orchestrator.jobs.get': { request: GetJobRequestSchema, reply: JobSchema },
  'orchestrator.jobs.cancel': { request: CancelJobRequestSchema, reply: JobSchema },
  'orchestrator.sweeps.submit': { request: SubmitSweepRequestSchema, reply: SweepSchema },
  'orchestrator.sweeps.get': { request: z.object({ sweepId: IdSchema }).strict(), reply: SweepSchema },
  'orchestrator.sweeps.list': { request: z.object({ limit: z.number().int().min(1).max(100).default(20) }).strict(), reply: z.object({ sweeps: z.array(SweepSchema) }).strict() },
  'orchestrator.drift.list': { request: ListDriftAlertsRequestSchema, reply: z.object({ alerts: z.array(DriftAlertSchema) }).strict() },
  // The dataset watcher's read views (the UI's data page).
  'watcher.batches.list': { request: ListBatchesRequestSchema, reply: z.object({ batches: z.array(BatchRecordSchema) }).strict() },
  'watcher.datasets.list': { request: ListDatasetVersionsRequestSchema, reply: z.object({ versions: z.array(DatasetVersionRecordSchema) }).strict() },
  'watcher.datasets.get': { request: z.object({ id: Sha256Schema }).strict(), reply: DatasetVersionContentsSchema },
  'watcher.drift.windows': { request: ListDriftWindowsRequestSchema, reply: z.object({ windows: z.array(DriftWindowSchema) }).strict() },
} as const satisfies Record<string, { request: z.ZodType; reply: z.ZodType }>;

export type RequestSubject = keyof typeof REQUESTS;
/** The endpoints each service answers: the orchestrator's and the dataset watcher's, by subject prefix. */
export const requestSubjectsOf = (service: 'orchestrator' | 'watcher'): RequestSubject[] =>
  (Object.keys(REQUESTS) as RequestSubject[]).filter((s) => s.startsWith(`${service}.`));
export type RequestOf<S extends RequestSubject> = z.input<(typeof REQUESTS)[S]['request']>;
export type ParsedRequestOf<S extends RequestSubject> = z.output<(typeof REQUESTS)[S]['request']>;
export type ReplyOf<S extends RequestSubject> = z.output<(typeof REQUESTS)[S]['reply']>;

/** Every reply travels as `{ ok: true, data }` or `{ ok: false, error: { code, message } }`. */
export const ReplyEnvelopeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }),
]);
