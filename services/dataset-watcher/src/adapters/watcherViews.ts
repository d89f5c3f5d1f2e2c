import type { BatchRecord, DatasetName, DatasetVersion, DatasetVersionRecord, DriftWindow, ParsedRequestOf } from '@mlpipe/contracts';
import type { Pool } from '@mlpipe/db';

type BatchRow = {
  source_prefix: string;
  batch_id: string;
  status: 'validated' | 'rejected';
  dataset: DatasetName | null;
  split: 'train' | 'test' | null;
  content_hash: string | null;
  samples: number | null;
  class_counts: number[] | null;
  reasons: string[];
  warnings: string[];
  processed_at: Date;
};
type VersionRow = { body: DatasetVersion; created_at: Date };
type WindowRow = {
  model: string;
  version: number;
  window_from: Date;
  window_to: Date;
  samples: number;
  drifted: boolean;
  reasons: string[];
  tests: DriftWindow['tests'];
  event_id: string | null;
  judged_at: Date;
};

const toBatch = (r: BatchRow): BatchRecord => ({
  sourcePrefix: r.source_prefix,
  batchId: r.batch_id,
  status: r.status,
  dataset: r.dataset,
  split: r.split,
  contentHash: r.content_hash,
  samples: r.samples,
  classCounts: r.class_counts,
  reasons: r.reasons,
  warnings: r.warnings,
  processedAt: r.processed_at.toISOString(),
});

const toVersion = (r: VersionRow): DatasetVersionRecord => ({
  id: r.body.id,
  dataset: r.body.dataset,
  trainSamples: r.body.trainSamples,
  testSamples: r.body.testSamples,
  trainBatchCount: r.body.trainBatchCount,
  testBatchCount: r.body.testBatchCount,
  createdAt: r.created_at.toISOString(),
});

/** The watcher's memory as the UI reads it: batches with their reasons, dataset versions, judged drift windows. */
export class WatcherViews {
  constructor(private readonly pool: Pool) {}

  async batches(req: ParsedRequestOf<'watcher.batches.list'>): Promise<BatchRecord[]> {
    const { rows } = await this.pool.query<BatchRow>(
      'select * from watcher.batches where ($1::text is null or status = $1) order by processed_at desc, source_prefix limit $2',
      [req.status ?? null, req.limit],
    );
    return rows.map(toBatch);
  }

  /** Validated batches by content hash (a version's manifest names its batches by content). */
  async batchesByHash(hashes: string[]): Promise<Map<string, BatchRecord>> {
    const { rows } = await this.pool.query<BatchRow>(`select * from watcher.batches where status = 'validated' and content_hash = any($1)`, [hashes]);
    return new Map(rows.map((r) => [r.content_hash ?? '', toBatch(r)]));
  }

  async versions(req: ParsedRequestOf<'watcher.datasets.list'>): Promise<DatasetVersionRecord[]> {
    const { rows } = await this.pool.query<VersionRow>('select body, created_at from watcher.dataset_versions where ($1::text is null or dataset = $1) order by seq desc limit $2', [
      req.dataset ?? null,
      req.limit,
    ]);
    return rows.map(toVersion);
  }

  async version(id: string): Promise<DatasetVersionRecord | undefined> {
    const { rows } = await this.pool.query<VersionRow>('select body, created_at from watcher.dataset_versions where id = $1', [id]);
    return rows[0] ? toVersion(rows[0]) : undefined;
  }

  async recordWindow(w: Omit<DriftWindow, 'judgedAt'>): Promise<void> {
    await this.pool.query(
      `insert into watcher.drift_windows (model, version, window_from, window_to, samples, drifted, reasons, tests, event_id)
       values ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
      [w.modelName, w.modelVersion, w.from, w.to, w.samples, w.drifted, JSON.stringify(w.reasons), JSON.stringify(w.tests), w.eventId],
    );
  }

  /** The newest windows first (a page of history), per model when asked. */
  async windows(req: ParsedRequestOf<'watcher.drift.windows'>): Promise<DriftWindow[]> {
    const { rows } = await this.pool.query<WindowRow>('select * from watcher.drift_windows where ($1::text is null or model = $1) order by id desc limit $2', [req.modelName ?? null, req.limit]);
    return rows.map((r) => ({
      modelName: r.model,
      modelVersion: r.version,
      from: r.window_from.toISOString(),
      to: r.window_to.toISOString(),
      samples: r.samples,
      drifted: r.drifted,
      reasons: r.reasons,
      tests: r.tests,
      eventId: r.event_id,
      judgedAt: r.judged_at.toISOString(),
    }));
  }
}
