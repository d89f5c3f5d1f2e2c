import { randomBytes } from 'node:crypto';
import { NotFoundError } from '@mlpipe/common';
import type { DatasetVersion, EpochMetrics, Hyperparams, Job, JobStatus, TrialRef, Trigger } from '@mlpipe/contracts';
import { nextStatus, type JobSignal } from '../core/jobState';
import { inTransaction, type Db } from './db';
import { toJob, type JobRow } from './jobRow';

export interface NewJob {
  jobId: string;
  idempotencyKey: string;
  modelName: string;
  dataset: DatasetVersion['dataset'];
  datasetVersion: string;
  hyperparams: Hyperparams;
  replicas: number;
  trigger: Trigger;
  sweep?: TrialRef;
  /** The principal who asked (absent: an automatic job, counted against nobody's quota). */
  submittedBy?: string;
}

/** What a signal may change besides the status. */
export interface JobChanges {
  reason?: string;
  /** When the status does not change, add the reason to the earlier one instead of replacing it (once). */
  addToEarlierReason?: boolean;
  progress?: EpochMetrics;
  modelVersion?: number;
  countAttempt?: boolean;
}

/** The jobs table: creation once per idempotency key, reads, and state-machine signals. */
export class JobRepository {
  constructor(private readonly db: Db) {}

  /** Inserts the job unless its idempotency key exists; returns the job under that key either way. */
  async createOnce(job: NewJob): Promise<{ job: Job; created: boolean }> {
    const inserted = await this.db.query<JobRow>(
      `insert into orchestrator.jobs (job_id, idempotency_key, model_name, dataset, dataset_version, hyperparams, replicas, trigger, status, status_reason, sweep_id, trial, submitted_by)
       values ($1,$2,$3,$4,$5,$6,$7,$8,'queued',$9,$10,$11,$12)
       on conflict (idempotency_key) do nothing returning *`,
      [
        job.jobId,
        job.idempotencyKey,
        job.modelName,
        job.dataset,
        job.datasetVersion,
        job.hyperparams,
        job.replicas,
        job.trigger,
        job.trigger.reason,
        job.sweep?.sweepId ?? null,
        job.sweep?.trial ?? null,
        job.submittedBy ?? null,
      ],
    );
    if (inserted.rows[0]) return { job: toJob(inserted.rows[0]), created: true };
    const existing = await this.db.query<JobRow>('select * from orchestrator.jobs where idempotency_key = $1', [job.idempotencyKey]);
    return { job: toJob(existing.rows[0] as JobRow), created: false };
  }

  /**
   * The principal's queued and running jobs, counted under a transaction-scoped lock on the
   * principal: two submissions at once cannot both see room for one more. Call it in the
   * transaction that creates the jobs; the lock is released when it ends.
   */
  async countActiveLocked(principal: string): Promise<number> {
    return inTransaction(this.db, async (client) => {
      await client.query(`select pg_advisory_xact_lock(hashtextextended('orchestrator.quota:' || $1, 0))`, [principal]);
      const { rows } = await client.query<{ n: string }>(
        `select count(*) as n from orchestrator.jobs where submitted_by = $1 and status in ('queued', 'running')`,
        [principal],
      );
      return Number(rows[0]?.n ?? 0);
    });
  }

  /**
   * The secret of the job's training group, made on first use and kept with the job, so every
   * rank's message (and any re-sent one) carries the same key. Never part of the Job the API shows.
   */
  async groupKey(jobId: string): Promise<string> {
    const { rows } = await this.db.query<{ group_key: string }>(
      'update orchestrator.jobs set group_key = coalesce(group_key, $2) where job_id = $1 returning group_key',
      [jobId, randomBytes(32).toString('base64url')],
    );
    if (!rows[0]) throw new NotFoundError(`no job ${jobId}`);
    return rows[0].group_key;
  }

  async get(jobId: string): Promise<Job> {
    const { rows } = await this.db.query<JobRow>('select * from orchestrator.jobs where job_id = $1', [jobId]);
    if (!rows[0]) throw new NotFoundError(`no job ${jobId}`);
    return toJob(rows[0]);
  }

  async list(opts: { status?: JobStatus | undefined; limit: number }): Promise<Job[]> {
    const { rows } = await this.db.query<JobRow>(
      `select * from orchestrator.jobs where ($1::text is null or status = $1) order by created_at desc limit $2`,
      [opts.status ?? null, opts.limit],
    );
    return rows.map(toJob);
  }

  /**
   * Applies a state-machine signal under a row lock, so concurrent events cannot interleave (in a
   * transaction of its own, or in the caller's); undefined for an unknown job.
   */
  async signal(jobId: string, signal: JobSignal, changes: JobChanges = {}): Promise<Job | undefined> {
    return inTransaction(this.db, async (client) => {
      const { rows } = await client.query<JobRow>('select * from orchestrator.jobs where job_id = $1 for update', [jobId]);
      const row = rows[0];
      if (!row) return undefined;
      const status = nextStatus(row.status as JobStatus, signal);
      const reason = reasonAfter(row, status, changes);
      const updated = await client.query<JobRow>(
        `update orchestrator.jobs set status = $2,
           status_reason = coalesce($3, status_reason),
           last_progress = coalesce($4, last_progress),
           history = case when $4::jsonb is null then history else history || jsonb_build_array($4::jsonb) end,
           model_version = coalesce($5, model_version),
           attempts = attempts + $6,
           updated_at = now()
         where job_id = $1 returning *`,
        [
          jobId,
          status,
          reason,
          changes.progress ?? null,
          changes.modelVersion ?? null,
          changes.countAttempt ? 1 : 0,
        ],
      );
      return toJob(updated.rows[0] as JobRow);
    });
  }
}

/** The status reason a signal leaves: null keeps the earlier one. */
function reasonAfter(row: JobRow, status: JobStatus, changes: JobChanges): string | null {
  const earlier = row.status_reason;
  if (changes.reason === undefined) return null;
  if (!changes.addToEarlierReason || status !== row.status || !earlier) return changes.reason;
  return earlier.endsWith(changes.reason) ? earlier : `${earlier}; ${changes.reason}`;
}
