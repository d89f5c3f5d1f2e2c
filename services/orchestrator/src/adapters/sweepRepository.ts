import type { Db } from './db';
import { NotFoundError } from '@mlpipe/common';
import type { EpochMetrics, Job, SweepSpec } from '@mlpipe/contracts';
import { toJob, type JobRow } from './jobRow';

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

type SweepTableRow = {
  sweep_id: string;
  model_name: string;
  dataset: string;
  dataset_version: string;
  spec: SweepSpec;
  status: SweepRow['status'];
  status_reason: string | null;
  best_job_id: string | null;
  created_at: Date;
};

/** Sweeps and their trials (the jobs that carry the sweep's id). */
export class SweepRepository {
  constructor(private readonly db: Db) {}

  async create(s: Pick<SweepRow, 'sweepId' | 'modelName' | 'dataset' | 'datasetVersion' | 'spec'>): Promise<void> {
    await this.db.query(
      `insert into orchestrator.sweeps (sweep_id, model_name, dataset, dataset_version, spec, status) values ($1,$2,$3,$4,$5,'running')`,
      [s.sweepId, s.modelName, s.dataset, s.datasetVersion, s.spec],
    );
  }

  async get(sweepId: string): Promise<SweepRow> {
    const { rows } = await this.db.query<SweepTableRow>('select * from orchestrator.sweeps where sweep_id = $1', [sweepId]);
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

  /** The newest sweeps' ids, newest first. */
  async recent(limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ sweep_id: string }>('select sweep_id from orchestrator.sweeps order by created_at desc, sweep_id limit $1', [limit]);
    return rows.map((r) => r.sweep_id);
  }

  async trials(sweepId: string): Promise<TrialRow[]> {
    const { rows } = await this.db.query<JobRow>('select * from orchestrator.jobs where sweep_id = $1 order by trial', [sweepId]);
    return rows.map((r) => ({ job: toJob(r), trial: r.trial ?? 0, history: r.history, prunedReason: r.pruned_reason }));
  }

  async markPruned(jobId: string, reason: string): Promise<void> {
    await this.db.query('update orchestrator.jobs set pruned_reason = $2 where job_id = $1 and pruned_reason is null', [jobId, reason]);
  }

  /** Closes a running sweep; false when it was closed already. */
  async finish(sweepId: string, status: 'succeeded' | 'failed', reason: string, bestJobId: string | null): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `update orchestrator.sweeps set status = $2, status_reason = $3, best_job_id = $4, updated_at = now() where sweep_id = $1 and status = 'running'`,
      [sweepId, status, reason, bestJobId],
    );
    return (rowCount ?? 0) > 0;
  }
}
