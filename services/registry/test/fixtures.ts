import { HyperparamsSchema, type EventData } from '@mlpipe/contracts';
import type { ObjectStore } from '@mlpipe/storage';

/** The dataset version every fixture job trained on. */
export const H = 'd'.repeat(64);

/** A trainer's completion of `jobId` at test accuracy `acc`, its artefacts under models/mnist/<job>/. */
export function completed(jobId: string, acc: number, perClass = Array(10).fill(acc)): EventData<'train.job.completed'> {
  const prefix = `models/mnist/${jobId}/`;
  return {
    jobId,
    modelName: 'mnist',
    replicaId: 'r1',
    dataset: 'mnist',
    datasetVersion: H,
    trainSamples: 1000,
    hyperparams: HyperparamsSchema.parse({}),
    backend: 'wasm',
    codeVersion: 'test',
    evaluation: { testAccuracy: acc, testSamples: 100, perClassAccuracy: perClass, confusionMatrix: Array.from({ length: 10 }, () => Array(10).fill(1)) },
    history: [{ epoch: 1, epochs: 1, loss: 0.3, accuracy: 0.9, valLoss: 0.2, valAccuracy: 0.95, samplesPerSec: 300, seconds: 3 }],
    artefacts: { prefix, modelJsonKey: `${prefix}model.json`, weightsKey: `${prefix}weights.bin` },
    durationSec: 4,
  };
}

/** The files registration checks for, as a trainer would have uploaded them. */
export async function putArtefacts(store: ObjectStore, jobId: string): Promise<void> {
  await store.put(`models/mnist/${jobId}/model.json`, new TextEncoder().encode('{}'));
  await store.put(`models/mnist/${jobId}/weights.bin`, new Uint8Array(8));
}
