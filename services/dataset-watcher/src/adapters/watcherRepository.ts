import type { DatasetName, DatasetVersion, Split } from '@mlpipe/contracts';
import { withTransaction, type Pool } from '@mlpipe/db';

export interface ValidatedBatchRecord {
  sourcePrefix: string;
  batchId: string;
  dataset: DatasetName;
  split: Split;
  contentHash: string;
  samples: number;
  classCounts: number[];
  warnings: string[];
  sampleHashes: Buffer[];
  version: DatasetVersion;
}

/** What the watcher remembers: processed folders, known samples and dataset versions. */
export class WatcherRepository {
  constructor(private readonly pool: Pool) {}

  async isProcessed(prefix: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('select 1 from watcher.batches where source_prefix = $1', [prefix]);
    return (rowCount ?? 0) > 0;
  }

  async knownAmong(hashes: Buffer[]): Promise<Set<string>> {
    if (!hashes.length) return new Set();
    const { rows } = await this.pool.query<{ hash: Buffer }>('select hash from watcher.sample_hashes where hash = any($1::bytea[])', [hashes]);
    return new Set(rows.map((r) => r.hash.toString('hex')));
  }

  /** The newest version's id; its batches are in its manifest in the store (rows keep only what the event carried). */
  async latestVersionId(dataset: DatasetName): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ id: string }>('select id from watcher.dataset_versions where dataset = $1 order by seq desc limit 1', [dataset]);
    return rows[0]?.id;
  }

  async batchSamples(contentHashes: string[]): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ content_hash: string; samples: number }>(
      `select content_hash, samples from watcher.batches where status = 'validated' and content_hash = any($1)`,
      [contentHashes],
    );
    return new Map(rows.map((r) => [r.content_hash, r.samples]));
  }

  async recordValidated(r: ValidatedBatchRecord): Promise<void> {
    await withTransaction(this.pool, async (c) => {
      await c.query(
        `insert into watcher.batches (source_prefix, batch_id, status, dataset, split, content_hash, samples, class_counts, warnings)
         values ($1,$2,'validated',$3,$4,$5,$6,$7,$8) on conflict (source_prefix) do nothing`,
        [r.sourcePrefix, r.batchId, r.dataset, r.split, r.contentHash, r.samples, JSON.stringify(r.classCounts), JSON.stringify(r.warnings)],
      );
      await c.query(
        `insert into watcher.sample_hashes (hash, content_hash)
         select h, $2 from unnest($1::bytea[]) as h on conflict do nothing`,
        [r.sampleHashes, r.contentHash],
      );
      await c.query(
        'insert into watcher.dataset_versions (id, dataset, body) values ($1,$2,$3) on conflict (id) do nothing',
        [r.version.id, r.version.dataset, r.version],
      );
    });
  }

  async recordRejected(prefix: string, batchId: string, reasons: string[]): Promise<void> {
    await this.pool.query(
      `insert into watcher.batches (source_prefix, batch_id, status, reasons) values ($1,$2,'rejected',$3)
       on conflict (source_prefix) do nothing`,
      [prefix, batchId, JSON.stringify(reasons)],
    );
  }

  /** Which training data a model version learned from (from model.version.registered). */
  async recordModelVersion(model: string, version: number, datasetVersion: string): Promise<void> {
    await this.pool.query('insert into watcher.model_versions (model, version, dataset_version) values ($1,$2,$3) on conflict do nothing', [model, version, datasetVersion]);
  }

  /** The training dataset (name and version id) of a model version, if known. */
  async trainingDataOf(model: string, version: number): Promise<{ dataset: DatasetName; versionId: string } | undefined> {
    const { rows } = await this.pool.query<{ dataset: DatasetName; id: string }>(
      `select d.dataset, d.id from watcher.model_versions m join watcher.dataset_versions d on d.id = m.dataset_version
       where m.model = $1 and m.version = $2`,
      [model, version],
    );
    return rows[0] ? { dataset: rows[0].dataset, versionId: rows[0].id } : undefined;
  }
}
