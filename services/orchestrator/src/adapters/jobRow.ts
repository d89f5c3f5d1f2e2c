import { JobSchema, type EpochMetrics, type Job } from '@mlpipe/contracts';

/** A row of orchestrator.jobs, as pg returns it. */
export type JobRow = {
  job_id: string;
  model_name: string;
  dataset: string;
  dataset_version: string;
  hyperparams: unknown;
  replicas: number;
  trigger: unknown;
  status: string;
  status_reason: string | null;
  attempts: number;
  last_progress: unknown;
  model_version: number | null;
  sweep_id: string | null;
  trial: number | null;
  history: EpochMetrics[];
  pruned_reason: string | null;
  submitted_by: string | null;
  created_at: Date;
  updated_at: Date;
};

/** Parsed against the contract, so a row that drifted from the schema fails here and not in a client. */
export const toJob = (r: JobRow): Job =>
  JobSchema.parse({
    jobId: r.job_id,
    modelName: r.model_name,
    dataset: r.dataset,
    datasetVersion: r.dataset_version,
    hyperparams: r.hyperparams,
    replicas: r.replicas,
    trigger: r.trigger,
    status: r.status,
    statusReason: r.status_reason,
    attempts: r.attempts,
    lastProgress: r.last_progress ?? null,
    modelVersion: r.model_version,
    sweep: r.sweep_id === null ? null : { sweepId: r.sweep_id, trial: r.trial ?? 0 },
    ...(r.submitted_by === null ? {} : { submittedBy: r.submitted_by }),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  });
