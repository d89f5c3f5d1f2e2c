import { NotFoundError } from '@mlpipe/common';
import { PredictionRecordSchema, storeKeys, type PredictionRecord } from '@mlpipe/contracts';
import type { Pool } from '@mlpipe/db';
import type { ObjectStore } from '@mlpipe/storage';
import type { RegistryQueries } from './queries';

/** How many of the newest prediction logs a lineage lookup reads before giving up. */
const MAX_LOGS = 2000;

/**
 * From a prediction id to everything behind the answer: the sampled prediction (gateway log),
 * the model version that gave it, the run that trained it (code version, hyperparameters, the
 * dataset version), the gate's decision and, for a sweep trial, its parent run.
 */
export async function predictionLineage(predictionId: string, model: string, deps: { store: ObjectStore; pool: Pool; queries: RegistryQueries }) {
  const prediction = await findPrediction(deps.store, model, predictionId);
  const version = await deps.queries.version(prediction.model, prediction.version);
  const run = await deps.queries.run(version.runId);
  const { rows } = await deps.pool.query<{ decision: string; reason: string; at: Date }>(
    `select decision, reason, at from registry.audit_log where model = $1 and version = $2 and actor = 'gate' and action = 'alias.set' order by id limit 1`,
    [prediction.model, prediction.version],
  );
  const gate = rows[0] ? { outcome: rows[0].decision, reason: rows[0].reason, at: rows[0].at.toISOString() } : null;
  const { input28: _input, ...answer } = prediction;
  return {
    prediction: answer,
    modelVersion: { model: version.model, version: version.version, testAccuracy: version.testAccuracy, aliases: version.aliases, createdAt: version.createdAt },
    run: { runId: run.runId, codeVersion: run.codeVersion, datasetVersion: run.datasetVersion, params: run.params, backend: run.backend, parentRunId: run.parentRunId, status: run.status },
    gate,
  };
}

async function findPrediction(store: ObjectStore, model: string, predictionId: string): Promise<PredictionRecord> {
  const logs = (await store.list(storeKeys.predictionLogDir(model))).sort((a, b) => b.key.localeCompare(a.key)).slice(0, MAX_LOGS);
  for (const log of logs) {
    const text = new TextDecoder().decode(await store.get(log.key));
    if (!text.includes(predictionId)) continue;
    for (const line of text.split('\n')) {
      if (!line.includes(predictionId)) continue;
      const parsed = PredictionRecordSchema.safeParse(JSON.parse(line));
      if (parsed.success && parsed.data.predictionId === predictionId && parsed.data.variant !== 'shadow') return parsed.data;
    }
  }
  throw new NotFoundError(`no sampled prediction ${predictionId} of ${model} in the newest ${MAX_LOGS} prediction logs (is PREDICTION_SAMPLE_SHARE above 0?)`);
}
