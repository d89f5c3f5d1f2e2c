import type { Pool } from '@mlpipe/db';
import { NotFoundError } from '@mlpipe/common';
import {
  JobSchema,
  type DatasetVersion,
  type EpochMetrics,
  type Hyperparams,
  type Job,
  type JobStatus,
  type SweepSpec,
  type TrialRef,
  type Trigger,
} from '@mlpipe/contracts';
import type { ChampionSnapshot } from '../core/policy';
import { nextStatus, type JobSignal } from '../core/jobState';

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
}

type JobRow = {
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
  created_at: Date;
  updated_at: Date;
};

export interface SweepRow {
  sweepId: string;
  modelName: string;
  dataset: string;
  datasetVersion: string;
  spec: SweepSpec;
  status: 'running' | 'succeeded' | 'failed';
  statusReason: string | null;
  bestJobId: string | null;
  createdAt: Date;
}

/** A sweep's trial as stored: the job plus its per-epoch history and whether it was pruned. */
export interface TrialRow {
  job: Job;
  trial: number;
  history: EpochMetrics[];
  prunedReason: string | null;
}

const toJob = (r: JobRow): Job =>
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
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  });

/** Jobs and what the orchestrator knows of datasets and champions, in its own PostgreSQL schema. */
export class JobRepository {
  constructor(private readonly pool: Pool) {}

  /** Inserts the job unless its idempotency key exists; returns the job under that key either way. */
  async createOnce(job: NewJob): Promise<{ job: Job; created: boolean }> {
    const inserted = await this.pool.query<JobRow>(
      `insert into orchestrator.jobs (job_id, idempotency_key, model_name, dataset, dataset_version, hyperparams, replicas, trigger, status, status_reason, sweep_id, trial)
       values ($1,$2,$3,$4,$5,$6,$7,$8,'queued',$9,$10,$11)
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
      ],
    );
    if (inserted.rows[0]) return { job: toJob(inserted.rows[0]), created: true };
    const existing = await this.pool.query<JobRow>(
      'select * from orchestrator.jobs where idempotency_key = $1',
      [job.idempotencyKey],
    );
    return { job: toJob(existing.rows[0] as JobRow), created: false };
  }

  async get(jobId: string): Promise<Job> {
    const { rows } = await this.pool.query<JobRow>('select * from orchestrator.jobs where job_id = $1', [
      jobId,
    ]);
    if (!rows[0]) throw new NotFoundError(`no job ${jobId}`);
    return toJob(rows[0]);
  }

  async list(opts: { status?: JobStatus | undefined; limit: number }): Promise<Job[]> {
    const { rows } = await this.pool.query<JobRow>(
      `select * from orchestrator.jobs where ($1::text is null or status = $1) order by created_at desc limit $2`,
      [opts.status ?? null, opts.limit],
    );
    return rows.map(toJob);
  }

  /** Applies a state-machine signal under a row lock, so concurrent events cannot interleave. */
  async signal(
    jobId: string,
    signal: JobSignal,
    changes: { reason?: string; progress?: EpochMetrics; modelVersion?: number; countAttempt?: boolean } = {},
  ): Promise<Job | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const { rows } = await client.query<JobRow>(
        'select * from orchestrator.jobs where job_id = $1 for update',
        [jobId],
      );
      const row = rows[0];
      if (!row) {
        await client.query('rollback');
        return undefined;
      }
      const status = nextStatus(row.status as JobStatus, signal);
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
          status === row.status && changes.reason === undefined ? null : (changes.reason ?? null),
          changes.progress ?? null,
          changes.modelVersion ?? null,
          changes.countAttempt ? 1 : 0,
        ],
      );
      await client.query('commit');
      return toJob(updated.rows[0] as JobRow);
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async hasActiveJob(modelName: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `select 1 from orchestrator.jobs where model_name = $1 and status in ('queued','running') limit 1`,
      [modelName],
    );
    return (rowCount ?? 0) > 0;
  }

  async jobExistsForVersion(modelName: string, datasetVersion: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `select 1 from orchestrator.jobs where model_name = $1 and dataset_version = $2 and status <> 'failed' limit 1`,
      [modelName, datasetVersion],
    );
    return (rowCount ?? 0) > 0;
  }

  async recordDatasetVersion(v: DatasetVersion): Promise<void> {
    await this.pool.query(
      `insert into orchestrator.dataset_versions (id, dataset, train_samples, test_samples, body)
       values ($1,$2,$3,$4,$5) on conflict (id) do nothing`,
      [v.id, v.dataset, v.trainSamples, v.testSamples, v],
    );
  }

  /** The newest dataset version seen for a dataset (the one with the most samples on ties of time). */
  async latestDatasetVersion(dataset: string): Promise<DatasetVersion | undefined> {
    const { rows } = await this.pool.query<{ body: DatasetVersion }>(
      `select body from orchestrator.dataset_versions where dataset = $1
       order by seen_at desc, train_samples + test_samples desc limit 1`,
      [dataset],
    );
    return rows[0]?.body;
  }

  async datasetVersion(id: string): Promise<DatasetVersion | undefined> {
    const { rows } = await this.pool.query<{ body: DatasetVersion }>(
      'select body from orchestrator.dataset_versions where id = $1',
      [id],
    );
    return rows[0]?.body;
  }

  async recordModelVersion(v: { modelName: string; version: number; jobId: string; trainSamples: number; datasetVersion: string; artefactPrefix: string }): Promise<void> {
    await this.pool.query(
      `insert into orchestrator.model_versions (model_name, version, job_id, train_samples, dataset_version, artefact_prefix)
       values ($1,$2,$3,$4,$5,$6) on conflict do nothing`,
      [v.modelName, v.version, v.jobId, v.trainSamples, v.datasetVersion, v.artefactPrefix],
    );
  }

  async setChampion(modelName: string, version: number): Promise<void> {
    await this.pool.query(
      `insert into orchestrator.champions (model_name, version) values ($1,$2)
       on conflict (model_name) do update set version = excluded.version, updated_at = now()`,
      [modelName, version],
    );
  }

  async champion(modelName: string): Promise<ChampionSnapshot | null> {
    const { rows } = await this.pool.query<{ version: number; train_samples: number; dataset_version: string; artefact_prefix: string | null }>(
      // Compare datasets, not subsets: the champion "has seen" its whole dataset version.
      `select c.version, coalesce(d.train_samples, v.train_samples) as train_samples, v.dataset_version, v.artefact_prefix
       from orchestrator.champions c
       join orchestrator.model_versions v on v.model_name = c.model_name and v.version = c.version
       left join orchestrator.dataset_versions d on d.id = v.dataset_version
       where c.model_name = $1`,
      [modelName],
    );
    const r = rows[0];
    return r ? { version: r.version, trainSamples: r.train_samples, datasetVersion: r.dataset_version, artefactPrefix: r.artefact_prefix } : null;
  }


  async createSweep(s: Omit<SweepRow, 'status' | 'statusReason' | 'bestJobId' | 'createdAt'>): Promise<void> {
    await this.pool.query(
      `insert into orchestrator.sweeps (sweep_id, model_name, dataset, dataset_version, spec, status) values ($1,$2,$3,$4,$5,'running')`,
      [s.sweepId, s.modelName, s.dataset, s.datasetVersion, s.spec],
    );
  }

  async sweep(sweepId: string): Promise<SweepRow> {
    const { rows } = await this.pool.query<{
      sweep_id: string;
      model_name: string;
      dataset: string;
      dataset_version: string;
      spec: SweepSpec;
      status: SweepRow['status'];
      status_reason: string | null;
      best_job_id: string | null;
      created_at: Date;
    }>('select * from orchestrator.sweeps where sweep_id = $1', [sweepId]);
    const r = rows[0];
    if (!r) throw new NotFoundError(`no sweep ${sweepId}`);
    return {
      sweepId: r.sweep_id,
      modelName: r.model_name,
      dataset: r.dataset,
      datasetVersion: r.dataset_version,
      spec: r.spec,
      status: r.status,
      statusReason: r.status_reason,
      bestJobId: r.best_job_id,
      createdAt: r.created_at,
    };
  }

  async trials(sweepId: string): Promise<TrialRow[]> {
    const { rows } = await this.pool.query<JobRow>(
      'select * from orchestrator.jobs where sweep_id = $1 order by trial',
      [sweepId],
    );
    return rows.map((r) => ({
      job: toJob(r),
      trial: r.trial ?? 0,
      history: r.history,
      prunedReason: r.pruned_reason,
    }));
  }

  async markPruned(jobId: string, reason: string): Promise<void> {
    await this.pool.query(
      'update orchestrator.jobs set pruned_reason = $2 where job_id = $1 and pruned_reason is null',
      [jobId, reason],
    );
  }

  /** Closes a running sweep; false when it was closed already. */
  async finishSweep(
    sweepId: string,
    status: 'succeeded' | 'failed',
    reason: string,
    bestJobId: string | null,
  ): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `update orchestrator.sweeps set status = $2, status_reason = $3, best_job_id = $4, updated_at = now() where sweep_id = $1 and status = 'running'`,
      [sweepId, status, reason, bestJobId],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Records a drift alert once per event. */
  async recordDrift(eventId: string, modelName: string, version: number, reasons: string[]): Promise<void> {
    await this.pool.query(
      'insert into orchestrator.drift_alerts (model_name, version, reasons, event_id) values ($1,$2,$3,$4) on conflict (event_id) do nothing',
      [modelName, version, JSON.stringify(reasons), eventId],
    );
  }

  /** The newest unresolved drift alert of a model (its version and reasons). */
  async openDrift(modelName: string): Promise<{ version: number; reasons: string[] } | null> {
    const { rows } = await this.pool.query<{ version: number; reasons: string[] }>(
      'select version, reasons from orchestrator.drift_alerts where model_name = $1 and resolved_by_job is null order by id desc limit 1',
      [modelName],
    );
    return rows[0] ?? null;
  }

  async resolveDrift(modelName: string, jobId: string): Promise<void> {
    await this.pool.query('update orchestrator.drift_alerts set resolved_by_job = $2 where model_name = $1 and resolved_by_job is null', [modelName, jobId]);
  }
}
