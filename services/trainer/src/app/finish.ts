import { performance } from 'node:perf_hooks';
import { publishEvent } from '@mlpipe/bus';
import { describeError, type Logger } from '@mlpipe/common';
import { ARTEFACTS, storeKeys, type LabelledImages, type TrainJobCompleted, type TrainJobRequested } from '@mlpipe/contracts';
import { evaluateModel, evaluateTransformed, loadModel, saveModel } from '@mlpipe/ml';
import type { ObjectStore } from '@mlpipe/storage';
import { exchangeSummary, type GroupResult } from '../adapters/distributed';
import { renderModelCard } from '../core/modelCard';
import { writeOnnxArtefact } from './onnxArtefact';
import { eventPatienceMs, type RunnerDeps } from './deps';
import type { PreparedJob } from './prepare';

/**
 * Scores the trained model (test split, transformed test split, and the champion on the same
 * split for a fair gate), stores weights, the verified ONNX export and the model card, then
 * announces the completion. The job message is kept alive between the steps: scoring and
 * uploading take seconds.
 */
export async function finishJob(p: PreparedJob, group: GroupResult | undefined, deps: RunnerDeps): Promise<void> {
  const { job, attempt, heartbeat } = p.run;
  const evaluation = evaluateModel(p.model, p.plan.test);
  heartbeat();
  const transformedTestAccuracy = evaluateTransformed(p.model, p.plan.test);
  heartbeat();
  const baselineEvaluation = job.baseline ? await evaluateBaseline(job.baseline, p.plan.test, deps.store, p.log) : undefined;
  heartbeat();
  // Per attempt: a stale attempt finishing late never overwrites the files another one announced.
  const prefix = storeKeys.modelArtefacts(job.modelName, job.jobId, attempt);
  const modelFiles = await saveModel(deps.store, prefix, p.model);
  const { onnx, onnxKey } = await writeOnnxArtefact(deps.store, prefix, p.model, p.plan.test);
  heartbeat();
  if (onnx.status === 'absent') p.log.warn({ reason: onnx.reason }, 'the version carries no ONNX export');
  const completed = {
    jobId: job.jobId,
    modelName: job.modelName,
    replicaId: deps.replicaId,
    dataset: job.dataset,
    datasetVersion: job.datasetVersion,
    trainSamples: p.plan.train.count,
    hyperparams: job.hyperparams,
    backend: deps.backend,
    codeVersion: deps.codeVersion,
    evaluation: {
      testAccuracy: evaluation.accuracy,
      testSamples: evaluation.count,
      perClassAccuracy: evaluation.perClassAccuracy,
      confusionMatrix: evaluation.confusionMatrix,
      transformedTestAccuracy,
    },
    history: p.history,
    durationSec: (performance.now() - p.startedAt) / 1000,
    onnx,
    ...(job.sweep ? { sweep: job.sweep } : {}),
    ...(baselineEvaluation ? { baselineEvaluation } : {}),
    ...(group ? { distributed: { replicasRequested: job.replicas, finalMembers: group.finalMembers, membershipChanges: group.membershipChanges, ...exchangeSummary(group.exchange) } } : {}),
  } satisfies Omit<TrainJobCompleted, 'artefacts'>;
  await deps.store.put(storeKeys.artefact(prefix, 'modelCard'), new TextEncoder().encode(renderModelCard(completed)), {
    contentType: ARTEFACTS.modelCard.contentType,
  });
  heartbeat();
  // One event id per job: a redelivered attempt's completion is a duplicate, and the registry registers a run once.
  await publishEvent(deps.bus, 'train.job.completed', { ...completed, artefacts: { prefix, ...modelFiles, ...(onnxKey ? { onnxKey } : {}) } }, {
    source: p.source,
    eventId: `train.job.completed:${job.jobId}`,
    retryForMs: eventPatienceMs(deps),
  });
  p.log.info({ testAccuracy: evaluation.accuracy, transformedTestAccuracy }, 'job completed');
}

/** The champion the job was created under, scored on this job's test split (the gate compares like with like). */
async function evaluateBaseline(
  baseline: NonNullable<TrainJobRequested['baseline']>,
  test: LabelledImages,
  store: ObjectStore,
  log: Logger,
): Promise<{ version: number; testAccuracy: number; perClassAccuracy: number[] } | undefined> {
  try {
    const model = await loadModel(store, baseline.artefactPrefix);
    try {
      const e = evaluateModel(model, test);
      log.info({ baseline: baseline.version, testAccuracy: e.accuracy }, 'champion scored on this job\'s test split');
      return { version: baseline.version, testAccuracy: e.accuracy, perClassAccuracy: e.perClassAccuracy };
    } finally {
      model.dispose();
    }
  } catch (err) {
    log.warn({ baseline: baseline.version, err: describeError(err) }, 'could not score the champion on this job\'s test split; the gate uses its recorded accuracy');
    return undefined;
  }
}
