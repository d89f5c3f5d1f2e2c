import type { Pool } from '@mlpipe/db';
import { NotFoundError } from '@mlpipe/common';
import type { OnnxExport } from '@mlpipe/contracts';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

type VersionRow = {
  model: string;
  version: number;
  run_id: string;
  artefact_prefix: string;
  test_accuracy: number;
  transformed_test_accuracy: number | null;
  onnx: OnnxExport | null;
  per_class_accuracy: number[];
  confusion_matrix: number[][];
  train_samples: number;
  dataset_version: string;
  created_at: Date;
  aliases: string[] | null;
};

const toVersion = (r: VersionRow) => ({
  model: r.model,
  version: r.version,
  runId: r.run_id,
  artefactPrefix: r.artefact_prefix,
  testAccuracy: r.test_accuracy,
  transformedTestAccuracy: r.transformed_test_accuracy,
  /** model.onnx verified against tfjs, or why the version has none; null for versions from before the export. */
  onnx: r.onnx,
  perClassAccuracy: r.per_class_accuracy,
  confusionMatrix: r.confusion_matrix,
  trainSamples: r.train_samples,
  datasetVersion: r.dataset_version,
  aliases: r.aliases ?? [],
  createdAt: iso(r.created_at),
});
export type VersionView = ReturnType<typeof toVersion>;

const VERSION_SELECT = `
  select v.*, (select array_agg(a.alias order by a.alias) from registry.aliases a where a.model = v.model and a.version = v.version) as aliases
  from registry.model_versions v`;

/** Read-only views for the REST API. */
export class RegistryQueries {
  constructor(private readonly pool: Pool) {}

  async experiments() {
    const { rows } = await this.pool.query<{ name: string; created_at: Date; runs: number }>(
      `select e.name, e.created_at, (select count(*)::int from registry.runs r where r.experiment = e.name) as runs
       from registry.experiments e order by e.name`,
    );
    return rows.map((r) => ({ name: r.name, runs: r.runs, createdAt: iso(r.created_at) }));
  }

  async runs(experiment: string, sort: string, order: 'asc' | 'desc') {
    const exists = await this.pool.query('select 1 from registry.experiments where name = $1', [experiment]);
    if (!exists.rowCount) throw new NotFoundError(`no experiment ${experiment}`);
    const { rows } = await this.pool.query(
      `select r.*, (select value from registry.run_metrics m where m.run_id = r.run_id and m.key = $2 order by step desc limit 1) as sort_value
       from registry.runs r where r.experiment = $1
       order by sort_value ${order === 'asc' ? 'asc' : 'desc'} nulls last, r.started_at desc`,
      [experiment, sort],
    );
    return rows.map((r) => this.toRun(r));
  }

  async run(runId: string) {
    const { rows } = await this.pool.query('select * from registry.runs where run_id = $1', [runId]);
    if (!rows[0]) throw new NotFoundError(`no run ${runId}`);
    const latest = await this.pool.query<{ key: string; value: number }>(
      'select distinct on (key) key, value from registry.run_metrics where run_id = $1 order by key, step desc',
      [runId],
    );
    return { ...this.toRun(rows[0]), metrics: Object.fromEntries(latest.rows.map((m) => [m.key, m.value])) };
  }

  async runMetrics(runId: string) {
    await this.run(runId);
    const { rows } = await this.pool.query<{ key: string; step: number; value: number; at: Date }>(
      'select key, step, value, at from registry.run_metrics where run_id = $1 order by key, step',
      [runId],
    );
    return rows.map((m) => ({ key: m.key, step: m.step, value: m.value, at: iso(m.at) }));
  }

  async models() {
    const { rows } = await this.pool.query<{ name: string; versions: number; aliases: Record<string, number> | null }>(
      `select m.name, (select count(*)::int from registry.model_versions v where v.model = m.name) as versions,
         (select jsonb_object_agg(a.alias, a.version) from registry.aliases a where a.model = m.name) as aliases
       from registry.registered_models m order by m.name`,
    );
    return rows.map((r) => ({ name: r.name, versions: r.versions, aliases: r.aliases ?? {} }));
  }

  async model(name: string) {
    const models = (await this.models()).filter((m) => m.name === name);
    if (!models[0]) throw new NotFoundError(`no model ${name}`);
    const { rows } = await this.pool.query<VersionRow>(`${VERSION_SELECT} where v.model = $1 order by v.version desc`, [name]);
    return { ...models[0], versionList: rows.map(toVersion) };
  }

  async version(name: string, version: number): Promise<VersionView> {
    const { rows } = await this.pool.query<VersionRow>(`${VERSION_SELECT} where v.model = $1 and v.version = $2`, [name, version]);
    if (!rows[0]) throw new NotFoundError(`model ${name} has no version ${version}`);
    return toVersion(rows[0]);
  }

  async alias(name: string, alias: string): Promise<VersionView> {
    const { rows } = await this.pool.query<{ version: number }>('select version from registry.aliases where model = $1 and alias = $2', [name, alias]);
    if (!rows[0]) throw new NotFoundError(`model ${name} has no ${alias}`);
    return this.version(name, rows[0].version);
  }

  /** When each model's current champion took the alias (for the champion-age metric). */
  async championsPromotedAt(): Promise<{ model: string; at: Date }[]> {
    const { rows } = await this.pool.query<{ model: string; updated_at: Date }>(`select model, updated_at from registry.aliases where alias = 'champion'`);
    return rows.map((r) => ({ model: r.model, at: r.updated_at }));
  }

  async audit(model: string | undefined, limit: number) {
    const { rows } = await this.pool.query(
      `select * from registry.audit_log where ($1::text is null or model = $1) order by id desc limit $2`,
      [model ?? null, limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      at: iso(r.at),
      actor: r.actor,
      action: r.action,
      model: r.model,
      version: r.version,
      decision: r.decision,
      reason: r.reason,
      details: r.details,
    }));
  }

  private toRun(r: Record<string, unknown>) {
    return {
      runId: r.run_id as string,
      experiment: r.experiment as string,
      status: r.status as string,
      params: r.params as Record<string, unknown>,
      tags: r.tags as Record<string, string>,
      datasetVersion: r.dataset_version as string,
      codeVersion: r.code_version as string,
      backend: (r.backend as string | null) ?? null,
      replica: (r.replica as string | null) ?? null,
      error: (r.error as string | null) ?? null,
      /** The sweep a trial belongs to (its parent run), or null. */
      parentRunId: (r.parent_run_id as string | null) ?? null,
      startedAt: iso(r.started_at as Date),
      endedAt: iso((r.ended_at as Date | null) ?? null),
    };
  }
}
