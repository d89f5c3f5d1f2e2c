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

  /** Marks every open alert of the model as answered by the job. */
  async resolve(modelName: string, jobId: string): Promise<void> {
    await this.db.query('update orchestrator.drift_alerts set resolved_by_job = $2 where model_name = $1 and resolved_by_job is null', [modelName, jobId]);
  }
}

/** The newest open drift alert of the model in parameter `param`: its version and reasons. */
export const openDriftSql = (param: string) =>
  `select version, reasons from orchestrator.drift_alerts where model_name = ${param} and resolved_by_job is null order by id desc limit 1`;
