import { z } from 'zod';
import { BatchRejectedSchema, BatchValidatedSchema, DriftDetectedSchema } from './data';
import { ModelAliasChangedSchema, ModelVersionRegisteredSchema } from './model';
import { SweepCompletedSchema } from './sweep';
import {
  TrainJobCancelledSchema,
  TrainJobCancelRequestedSchema,
  TrainJobCompletedSchema,
  TrainJobFailedSchema,
  TrainJobProgressSchema,
  TrainJobRequestedSchema,
  TrainJobStartedSchema,
  TrainGroupChangedSchema,
} from './train';

/** JetStream streams: name suffix → subjects they capture (both get the deployment namespace). */
export const STREAMS = {
  DATA: { subjects: ['data.>'], description: 'dataset batches and drift' },
  TRAIN: { subjects: ['train.>'], description: 'training jobs and their progress' },
  MODEL: { subjects: ['model.>'], description: 'model versions and aliases' },
  DLQ: { subjects: ['dlq.>'], description: 'messages no consumer could handle, with the reason' },
} as const;
export type StreamKey = keyof typeof STREAMS;

const DAY_MS = 24 * 3_600_000;
const MIB = 1024 * 1024;

/**
 * What each stream keeps unless configured otherwise (the STREAM_* settings): messages older than
 * maxAgeMs or beyond maxBytes are dropped, oldest first; 0 is no limit. Sized so a namespace
 * reserves under 2 GiB (nats-server reserves each stream's max_bytes in its store up front). TRAIN
 * also holds the job queue, so its age outlasts a long trainer outage.
 */
export const DEFAULT_STREAM_LIMITS = {
  DATA: { maxAgeMs: 30 * DAY_MS, maxBytes: 256 * MIB },
  TRAIN: { maxAgeMs: 14 * DAY_MS, maxBytes: 1024 * MIB },
  MODEL: { maxAgeMs: 90 * DAY_MS, maxBytes: 64 * MIB },
  DLQ: { maxAgeMs: 30 * DAY_MS, maxBytes: 512 * MIB },
} as const satisfies Record<StreamKey, { maxAgeMs: number; maxBytes: number }>;

/**
 * The event catalogue: one place saying, for each event type, its subject, stream,
 * payload schema and schema version. Publish and consume helpers are derived from it.
 */
export const EVENTS = {
  // v2: datasetVersion names its manifest (key, counts, hash) instead of listing every batch.
  'data.batch.validated': { stream: 'DATA', version: 2, schema: BatchValidatedSchema },
  'data.batch.rejected': { stream: 'DATA', version: 1, schema: BatchRejectedSchema },
  'data.drift.detected': { stream: 'DATA', version: 1, schema: DriftDetectedSchema },
  'train.job.requested': { stream: 'TRAIN', version: 1, schema: TrainJobRequestedSchema },
  'train.job.started': { stream: 'TRAIN', version: 1, schema: TrainJobStartedSchema },
  'train.job.progress': { stream: 'TRAIN', version: 1, schema: TrainJobProgressSchema },
  'train.job.completed': { stream: 'TRAIN', version: 1, schema: TrainJobCompletedSchema },
  'train.job.failed': { stream: 'TRAIN', version: 1, schema: TrainJobFailedSchema },
  'train.job.cancel-requested': { stream: 'TRAIN', version: 1, schema: TrainJobCancelRequestedSchema },
  'train.job.cancelled': { stream: 'TRAIN', version: 1, schema: TrainJobCancelledSchema },
  'train.group.changed': { stream: 'TRAIN', version: 1, schema: TrainGroupChangedSchema },
  'train.sweep.completed': { stream: 'TRAIN', version: 1, schema: SweepCompletedSchema },
  'model.version.registered': { stream: 'MODEL', version: 1, schema: ModelVersionRegisteredSchema },
  'model.alias.changed': { stream: 'MODEL', version: 1, schema: ModelAliasChangedSchema },
} as const satisfies Record<string, { stream: StreamKey; version: number; schema: z.ZodType }>;

export type EventType = keyof typeof EVENTS;
export type EventData<T extends EventType> = z.infer<(typeof EVENTS)[T]['schema']>;
export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

/** Every event travels in this envelope; `type` doubles as the subject (before the namespace). */
export const EnvelopeHeaderSchema = z
  .object({
    type: z.string().min(1),
    schemaVersion: z.number().int().positive(),
    eventId: z.string().min(1).max(256),
    occurredAt: z.iso.datetime({ offset: true }),
    source: z.string().min(1),
  })
  .strict();

export interface Envelope<T extends EventType = EventType> {
  type: T;
  schemaVersion: number;
  eventId: string;
  occurredAt: string;
  source: string;
  data: EventData<T>;
}

/** Validates an unknown value as an envelope of `type`; returns the issues instead of throwing. */
export function parseEnvelope<T extends EventType>(
  type: T,
  value: unknown,
): { ok: true; envelope: Envelope<T> } | { ok: false; reason: string } {
  const entry = EVENTS[type];
  // The version first: an event of another version fails for that reason, not for its fields.
  const header = EnvelopeHeaderSchema.pick({ schemaVersion: true }).safeParse({ schemaVersion: (value as { schemaVersion?: unknown } | null)?.schemaVersion });
  if (header.success && header.data.schemaVersion !== entry.version) {
    return { ok: false, reason: `unsupported schemaVersion ${header.data.schemaVersion} for ${type} (expected ${entry.version})` };
  }
  const schema = EnvelopeHeaderSchema.extend({ type: z.literal(type), data: entry.schema as z.ZodType });
  const result = schema.safeParse(value);
  if (!result.success) return { ok: false, reason: z.prettifyError(result.error).replace(/\n/g, '; ') };
  return { ok: true, envelope: result.data as Envelope<T> };
}

/** What lands on the dead-letter subject `dlq.<original subject>`. */
export const DeadLetterSchema = z
  .object({
    originalSubject: z.string().min(1),
    consumer: z.string().min(1),
    reason: z.string().min(1),
    deliveries: z.number().int().nonnegative(),
    payload: z.string(),
    payloadEncoding: z.enum(['utf8', 'base64']),
    occurredAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
