import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DatasetManifestSchema, DatasetNameSchema, ModelNameSchema, Sha256Schema, storeKeys } from '@mlpipe/contracts';
import { NotFoundError } from '@mlpipe/common';
import type { AuthGuard } from '@mlpipe/auth';
import type { Pool } from '@mlpipe/db';
import type { ObjectStore } from '@mlpipe/storage';
import type { RegistryQueries } from '../adapters/queries';

export interface RunViewDeps {
  pool: Pool;
  store: ObjectStore;
  queries: RegistryQueries;
  guard: AuthGuard;
}

/** Batches listed per dataset version: each is one small manifest read, and a page shows no more. */
const MAX_BATCHES = 200;
const ErrorReply = z.object({ error: z.string(), code: z.string() });
const errors = { 200: z.unknown(), 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };

type DecisionRow = { id: string; model: string; version: number; run_id: string; decision: string; reason: string; at: Date; champion_version: number | null; champion_accuracy: number | null };

/**
 * The gate's decision on each version, with the champion it was judged against: the version that
 * held the champion alias just before the decision (the newest champion move with a smaller audit
 * id), so a later promotion or roll-back does not rewrite what the gate saw.
 */
const DECISIONS = `
  select g.id, g.model, g.version, v.run_id, g.decision, g.reason, g.at,
    c.version as champion_version, cv.test_accuracy as champion_accuracy
  from registry.audit_log g
  join registry.model_versions v on v.model = g.model and v.version = g.version
  left join lateral (
    select p.version from registry.audit_log p
    where p.model = g.model and p.action = 'alias.set' and p.decision = 'champion' and p.id < g.id
    order by p.id desc limit 1
  ) c on true
  left join registry.model_versions cv on cv.model = g.model and cv.version = c.version
  where g.actor = 'gate' and g.action = 'alias.set'`;

const toDecision = (r: DecisionRow) => ({
  model: r.model,
  version: r.version,
  runId: r.run_id,
  outcome: r.decision,
  reason: r.reason,
  at: r.at.toISOString(),
  /** The champion the gate compared against, or null for the first version. */
  championAtTheTime: r.champion_version === null ? null : { version: r.champion_version, testAccuracy: r.champion_accuracy },
});

/**
 * Read views for the web UI's run and registry pages: what a run became (its version and the
 * gate's decision), every gate decision of a model, and a dataset version with its batches.
 */
export function registerRunViewRoutes(app: FastifyInstance, deps: RunViewDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const viewer = { onRequest: deps.guard.requireRole('viewer') };
  const RunParams = z.object({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/) });

  api.get(
    '/runs/:id/registration',
    { ...viewer, schema: { summary: 'The model version a run registered (null if none) and the gate decision against the champion of the time', params: RunParams, response: errors } },
    async (req) => {
      const run = await deps.queries.run(req.params.id);
      const { rows } = await deps.pool.query<{ model: string; version: number }>('select model, version from registry.model_versions where run_id = $1', [run.runId]);
      const found = rows[0];
      if (!found) return { runId: run.runId, version: null, gate: null };
      const decision = await deps.pool.query<DecisionRow>(`${DECISIONS} and g.model = $1 and g.version = $2 order by g.id limit 1`, [found.model, found.version]);
      return { runId: run.runId, version: await deps.queries.version(found.model, found.version), gate: decision.rows[0] ? toDecision(decision.rows[0]) : null };
    },
  );

  // The experiments table's metric columns in one query instead of one request per run.
  api.get(
    '/experiments/:name/metrics/latest',
    { ...viewer, schema: { summary: "The latest value of every metric of every run of an experiment, by run id", params: z.object({ name: ModelNameSchema }), response: errors } },
    async (req) => {
      const exists = await deps.pool.query('select 1 from registry.experiments where name = $1', [req.params.name]);
      if (!exists.rowCount) throw new NotFoundError(`no experiment ${req.params.name}`);
      const { rows } = await deps.pool.query<{ run_id: string; key: string; value: number }>(
        `select distinct on (m.run_id, m.key) m.run_id, m.key, m.value
         from registry.run_metrics m join registry.runs r on r.run_id = m.run_id
         where r.experiment = $1 order by m.run_id, m.key, m.step desc`,
        [req.params.name],
      );
      const runs: Record<string, Record<string, number>> = {};
      for (const r of rows) (runs[r.run_id] ??= {})[r.key] = r.value;
      return { runs };
    },
  );

  api.get(
    '/models/:name/decisions',
    { ...viewer, schema: { summary: "The gate's decision on every version of a model, newest first, with the champion it was judged against", params: z.object({ name: ModelNameSchema }), response: errors } },
    async (req) => {
      await deps.queries.model(req.params.name);
      const { rows } = await deps.pool.query<DecisionRow>(`${DECISIONS} and g.model = $1 order by g.id desc`, [req.params.name]);
      return { decisions: rows.map(toDecision) };
    },
  );

  api.get(
    '/datasets/:dataset/versions/:id',
    { ...viewer, schema: { summary: 'A dataset version: its counts and its batches per split (from the manifests in the store)', params: z.object({ dataset: DatasetNameSchema, id: Sha256Schema }), response: errors } },
    async (req) => {
      const { dataset, id } = req.params;
      const manifest = await readJson(deps.store, storeKeys.datasetVersion(dataset, id), `no dataset version ${id} of ${dataset} in the store`);
      const m = DatasetManifestSchema.parse(manifest);
      const listed = [...m.trainBatches.map((h) => ['train', h] as const), ...m.testBatches.map((h) => ['test', h] as const)].slice(0, MAX_BATCHES);
      const batches = await Promise.all(
        listed.map(async ([split, hash]) => {
          const b = (await readJson(deps.store, storeKeys.normalisedFile(storeKeys.normalisedBatch(dataset, hash), 'manifest'), '').catch(() => null)) as
            | { samples?: number; classCounts?: number[]; sourcePrefix?: string; createdAt?: string }
            | null;
          return { split, contentHash: hash, samples: b?.samples ?? null, classCounts: b?.classCounts ?? null, sourcePrefix: b?.sourcePrefix ?? null, createdAt: b?.createdAt ?? null };
        }),
      );
      return {
        id: m.id,
        dataset: m.dataset,
        trainSamples: m.trainSamples,
        testSamples: m.testSamples,
        trainBatchCount: m.trainBatches.length,
        testBatchCount: m.testBatches.length,
        batches,
        /** True when the version has more batches than listed here. */
        truncated: m.trainBatches.length + m.testBatches.length > listed.length,
      };
    },
  );
}

async function readJson(store: ObjectStore, key: string, missing: string): Promise<unknown> {
  if (!(await store.head(key))) throw new NotFoundError(missing || `no ${key}`);
  return JSON.parse(new TextDecoder().decode(await store.get(key))) as unknown;
}
