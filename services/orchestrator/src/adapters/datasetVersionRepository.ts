import type { Db } from './db';
import type { DatasetVersion } from '@mlpipe/contracts';

/** The newest dataset version of the dataset in parameter `param` (the one with the most samples on ties of time). */
export const latestVersionSql = (param: string) => `select id, body from orchestrator.dataset_versions where dataset = ${param}
  order by seen_at desc, train_samples + test_samples desc limit 1`;

/** The dataset versions the watcher announced, kept whole so a job can name one later. */
export class DatasetVersionRepository {
  constructor(private readonly db: Db) {}

  async record(v: DatasetVersion): Promise<void> {
    await this.db.query(
      `insert into orchestrator.dataset_versions (id, dataset, train_samples, test_samples, body)
       values ($1,$2,$3,$4,$5) on conflict (id) do nothing`,
      [v.id, v.dataset, v.trainSamples, v.testSamples, v],
    );
  }

  async latest(dataset: string): Promise<DatasetVersion | undefined> {
    const { rows } = await this.db.query<{ body: DatasetVersion }>(latestVersionSql('$1'), [dataset]);
    return rows[0]?.body;
  }

  async get(id: string): Promise<DatasetVersion | undefined> {
    const { rows } = await this.db.query<{ body: DatasetVersion }>('select body from orchestrator.dataset_versions where id = $1', [id]);
    return rows[0]?.body;
  }
}
