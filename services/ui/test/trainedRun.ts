import { publishEvent, type Bus } from '@mlpipe/bus';
import { ARTEFACTS, HyperparamsSchema, storeKeys, type DatasetVersion, type Hyperparams, type TrainJobCompleted } from '@mlpipe/contracts';
import { createModel, evaluateModel, evaluateTransformed, saveModel, trainModel } from '@mlpipe/ml';
import { mnistSamples } from '@mlpipe/testing';
import type { ObjectStore } from '@mlpipe/storage';
import { renderModelCard } from '../../trainer/src/core/modelCard';

export interface TrainedRunOptions {
  jobId: string;
  hyperparams: Partial<Hyperparams>;
  /** The dataset version the run names in its lineage (e.g. from writeMnistVersion). */
  datasetVersion: DatasetVersion;
  trainSamples: number;
  testSamples: number;
}

/**
 * A real training run, reported as the trainer reports one: a cnn trained here on MNIST samples,
 * its start, one progress event per epoch (the curves), and its completion with the measured
 * evaluation (confusion matrix, per-class and transformed-digits accuracy), its stored weights and
 * model card. The registry records the run and sends the version through its gate.
 */
export async function recordTrainedRun(bus: Bus, store: ObjectStore, o: TrainedRunOptions): Promise<TrainJobCompleted> {
  const hp = HyperparamsSchema.parse(o.hyperparams);
  const base = { jobId: o.jobId, replicaId: 'ui-test', attempt: 1 };
  const lineage = { datasetVersion: o.datasetVersion.id, codeVersion: 'ui-test-0001' };
  await publishEvent(bus, 'train.job.started', { ...base, modelName: 'mnist', backend: 'wasm', resumedFromEpoch: 0, hyperparams: hp, ...lineage }, { source: 'test' });

  const all = mnistSamples('train', o.trainSamples);
  const held = Math.floor(o.trainSamples * hp.validationShare);
  const PIX = 28 * 28;
  const train = { images: all.images.subarray(held * PIX), labels: all.labels.subarray(held), count: all.count - held };
  const validation = { images: all.images.subarray(0, held * PIX), labels: all.labels.subarray(0, held), count: held };
  const model = createModel(hp.arch, { seed: hp.seed, learningRate: hp.learningRate, optimizer: hp.optimizer });
  const started = performance.now();
  const history = await trainModel(model, { train, validation }, {
    epochs: hp.epochs,
    batchSize: hp.batchSize,
    seed: hp.seed,
    onEpoch: (m) => publishEvent(bus, 'train.job.progress', { ...base, metrics: m, checkpointKey: storeKeys.checkpointPointer(o.jobId) }, { source: 'test' }).then(() => undefined),
  });
  const test = mnistSamples('t10k', o.testSamples);
  const ev = evaluateModel(model, test);
  const prefix = storeKeys.modelArtefacts('mnist', o.jobId);
  const files = await saveModel(store, prefix, model);
  const completed: Omit<TrainJobCompleted, 'artefacts'> = {
    jobId: o.jobId,
    modelName: 'mnist',
    replicaId: base.replicaId,
    dataset: 'mnist',
    trainSamples: train.count,
    hyperparams: hp,
    backend: 'wasm',
    ...lineage,
    evaluation: {
      testAccuracy: ev.accuracy,
      testSamples: test.count,
      perClassAccuracy: ev.perClassAccuracy,
      confusionMatrix: ev.confusionMatrix,
      transformedTestAccuracy: evaluateTransformed(model, test),
    },
    history,
    onnx: { status: 'absent', reason: 'the UI test does not export ONNX' },
    durationSec: (performance.now() - started) / 1000,
  };
  await store.put(storeKeys.artefact(prefix, 'modelCard'), new TextEncoder().encode(renderModelCard(completed)), { contentType: ARTEFACTS.modelCard.contentType });
  const event: TrainJobCompleted = { ...completed, artefacts: { prefix, ...files } };
  await publishEvent(bus, 'train.job.completed', event, { source: 'test' });
  model.dispose();
  return event;
}
