import type { Db } from './db';
import type { ChampionSnapshot } from '../core/policy';

export interface ModelVersionRecord {
  modelName: string;
  version: number;
  jobId: string;
  trainSamples: number;
  datasetVersion: string;
  artefactPrefix: string;
}

/** A champion as the query below returns it. */
export interface ChampionRow {
  version: number;
  train_samples: number;
  dataset_version: string;
  artefact_prefix: string | null;
}

/**
 * The champion of the model in parameter `param`. Compare datasets, not subsets: the champion
 * "has seen" its whole dataset version, so its train samples are the version's when it is known.
 */
export const championSql = (param: string) => `select c.version, coalesce(d.train_samples, v.train_samples) as train_samples, v.dataset_version, v.artefact_prefix
  from orchestrator.champions c
  join orchestrator.model_versions v on v.model_name = c.model_name and v.version = c.version
  left join orchestrator.dataset_versions d on d.id = v.dataset_version
  where c.model_name = ${param}`;

export const toChampion = (r: ChampionRow): ChampionSnapshot => ({
  version: r.version,
  trainSamples: r.train_samples,
  datasetVersion: r.dataset_version,
  artefactPrefix: r.artefact_prefix,
});

/** Registered model versions and which one is each model's champion. */
export class ModelRepository {
  constructor(private readonly db: Db) {}

  async recordVersion(v: ModelVersionRecord): Promise<void> {
    await this.db.query(
      `insert into orchestrator.model_versions (model_name, version, job_id, train_samples, dataset_version, artefact_prefix)
       values ($1,$2,$3,$4,$5,$6) on conflict do nothing`,
      [v.modelName, v.version, v.jobId, v.trainSamples, v.datasetVersion, v.artefactPrefix],
    );
  }

  async setChampion(modelName: string, version: number): Promise<void> {
    await this.db.query(
      `insert into orchestrator.champions (model_name, version) values ($1,$2)
       on conflict (model_name) do update set version = excluded.version, updated_at = now()`,
      [modelName, version],
    );
  }

  async champion(modelName: string): Promise<ChampionSnapshot | null> {
    const { rows } = await this.db.query<ChampionRow>(championSql('$1'), [modelName]);
    return rows[0] ? toChampion(rows[0]) : null;
  }
}
