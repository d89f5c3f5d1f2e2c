import * as tf from '@tensorflow/tfjs';
import { ARTEFACTS, storeKeys } from '@mlpipe/contracts';
import type { ObjectStore } from '@mlpipe/storage';
import { compileModel, type OptimizerOptions } from './models';
import { fuseOptimizer } from './optimizers';

/** The standard TensorFlow.js pair: model.json (topology + weights manifest) and weights.bin. */
export interface ModelArtifacts {
  modelJson: Uint8Array;
  weights: Uint8Array;
}

/** Where a stored model's two files are (the shape of train.job.completed's `artefacts`, less the prefix). */
export interface ModelFileKeys {
  modelJsonKey: string;
  weightsKey: string;
}

/**
 * Stores a model (with optimizer state) under `prefix`: an artefact folder or a checkpoint folder.
 * weights.bin goes first and model.json last, so a reader that finds model.json finds its weights.
 */
export async function saveModel(store: ObjectStore, prefix: string, model: tf.LayersModel): Promise<ModelFileKeys> {
  return putModelFiles(store, prefix, await saveModelToBytes(model));
}

/** Loads a model stored by saveModel (see loadModelFromBytes for `learningRate`). */
export async function loadModel(store: ObjectStore, prefix: string, opts: { learningRate?: number } = {}): Promise<tf.LayersModel> {
  return loadModelFromBytes(await getModelFiles(store, prefix), opts);
}

/** saveModel for bytes already serialised (a checkpoint taken earlier). */
export async function putModelFiles(store: ObjectStore, prefix: string, files: ModelArtifacts): Promise<ModelFileKeys> {
  const keys = modelFileKeys(prefix);
  await store.put(keys.weightsKey, files.weights, { contentType: ARTEFACTS.weights.contentType });
  await store.put(keys.modelJsonKey, files.modelJson, { contentType: ARTEFACTS.modelJson.contentType });
  return keys;
}

export async function getModelFiles(store: ObjectStore, prefix: string): Promise<ModelArtifacts> {
  const keys = modelFileKeys(prefix);
  return { modelJson: await store.get(keys.modelJsonKey), weights: await store.get(keys.weightsKey) };
}

export function modelFileKeys(prefix: string): ModelFileKeys {
  return { modelJsonKey: storeKeys.artefact(prefix, 'modelJson'), weightsKey: storeKeys.artefact(prefix, 'weights') };
}

/**
 * Serialises a model, with its optimizer state, to the files tf.loadLayersModel reads, so a
 * checkpoint resumes training exactly and the served artefact is the usual tfjs format.
 */
export async function saveModelToBytes(model: tf.LayersModel): Promise<ModelArtifacts> {
  let saved: ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const weightData = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(
        Array.isArray(a.weightData) ? a.weightData : [a.weightData],
      );
      const json = {
        format: a.format ?? 'layers-model',
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy ?? null,
        modelTopology: a.modelTopology,
        ...(a.trainingConfig ? { trainingConfig: a.trainingConfig } : {}),
        weightsManifest: [{ paths: [ARTEFACTS.weights.file], weights: a.weightSpecs ?? [] }],
      };
      saved = { modelJson: new TextEncoder().encode(JSON.stringify(json)), weights: new Uint8Array(weightData) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  if (!saved) throw new Error('model.save produced nothing');
  return saved;
}

/**
 * Loads the pair back with the fused form of its saved optimizer (checkpoints of tf.train.adam and
 * friends load too); a model saved without optimizer state is compiled afresh with `opts`.
 */
export async function loadModelFromBytes(a: ModelArtifacts, opts: OptimizerOptions = {}): Promise<tf.LayersModel> {
  const json = JSON.parse(new TextDecoder().decode(a.modelJson)) as {
    modelTopology: object;
    trainingConfig?: tf.io.TrainingConfig;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const weightData = a.weights.buffer.slice(a.weights.byteOffset, a.weights.byteOffset + a.weights.byteLength) as ArrayBuffer;
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData, ...(json.trainingConfig ? { trainingConfig: json.trainingConfig } : {}) }),
  );
  if (!model.optimizer) compileModel(model, opts);
  // tfjs rebuilt its own optimizer class from the saved className: swap in the fused one, state and all.
  else model.optimizer = await fuseOptimizer(model.optimizer);
  return model;
}
