import type { DriftAlert, JobStatus } from '@mlpipe/contracts';
import type { Db } from './db';

/** Drift reported on a model's predictions, open until a retraining job answers it. */
export class DriftAlertRepository {
  constructor(private readonly db: Db) {}

  /** Records a drift alert once per event. */
  async record(eventId: string, modelName: string, version: number, reasons: string[]): Promise<void> {
    await this.db.query(
      'insert into orchestrator.drift_alerts (model_name, version, reasons, event_id) values ($1,$2,$3,$4) on conflict (event_id) do nothing',
      [modelName, version, JSON.stringify(reasons), eventId],
    );
  }

  /** The newest alerts first, each with the retraining job that answered it (for the UI's drift view). */
  async list(modelName: string | undefined, limit: number): Promise<DriftAlert[]> {
    type Row = { event_id: string; model_name: string; version: number; reasons: string[]; detected_at: Date; job_id: string | null; status: JobStatus | null; model_version: number | null; trigger: { reason: string } | null };
    const { rows } = await this.db.query<Row>(
      `select a.event_id, a.model_name, a.version, a.reasons, a.detected_at, j.job_id, j.status, j.model_version, j.trigger
       from orchestrator.drift_alerts a left join orchestrator.jobs j on j.job_id = a.resolved_by_job
       where ($1::text is null or a.model_name = $1) order by a.id desc limit $2`,
      [modelName ?? null, limit],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      modelName: r.model_name,
      modelVersion: r.version,
      reasons: r.reasons,
      detectedAt: r.detected_at.toISOString(),
      retrainJob: r.job_id && r.status ? { jobId: r.job_id, status: r.status, modelVersion: r.model_version, trigger: r.trigger?.reason ?? '' } : null,
    }));
  }

  /** Marks every open alert of the model as answered by the job. */
  async resolve(modelName: string, jobId: string): Promise<void> {
    await this.db.query('update orchestrator.drift_alerts set resolved_by_job = $2 where model_name = $1 and resolved_by_job is null', [modelName, jobId]);
  }
}

/** The newest open drift alert of the model in parameter `param`: its version and reasons. */
export const openDriftSql = (param: string) =>
  `select version, reasons from orchestrator.drift_alerts where model_name = ${param} and resolved_by_job is null order by id desc limit 1`;
