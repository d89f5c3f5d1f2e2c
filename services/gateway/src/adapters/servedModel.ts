import * as tf from '@tensorflow/tfjs';
import { describeError, NotFoundError } from '@mlpipe/common';
import { ARTEFACTS } from '@mlpipe/contracts';
import { imagesToTensor, loadModelFromBytes, PIXELS, type ModelArtifacts } from '@mlpipe/ml';
import type { ServingRuntime } from '../core/runtime';
import { openOnnxModel, type OnnxRuntime } from './onnxSession';

/** A version's files, read when asked (the ModelCache knows where: the registry, else the store). */
export interface VersionFiles {
  /** model.json and weights.bin. */
  tfjs(): Promise<ModelArtifacts>;
  /** model.onnx; NotFoundError, saying why, when the version has none. */
  onnx(): Promise<Uint8Array>;
}

/** How a loaded version answers, whichever runtime runs it. */
export interface ServedVersion {
  /** The runtime that answers its predictions. */
  runtime: ServingRuntime;
  /** Why tfjs serves it in a replica that serves with onnx (no verified export, a file onnxruntime refused). */
  fallback?: string;
  /** One model call: the images stacked into one input, one row of class probabilities per image. */
  predict(images: Uint8Array[]): Promise<number[][]>;
  /** The tfjs model, for what needs gradients (the saliency map); loaded on first use where ONNX serves. */
  layers(): Promise<tf.LayersModel>;
  dispose(): void;
}

/** The replica's runtime as the ModelCache uses it: tfjs, or onnx with the loaded onnxruntime-node. */
export type ReplicaRuntime = { runtime: 'tfjs' } | { runtime: 'onnx'; ort: OnnxRuntime };

/** The tfjs model call; synchronous on the WASM/CPU backends (the batcher relies on nothing more than a promise). */
function tfjsRows(model: tf.LayersModel, images: Uint8Array[]): number[][] {
  const bytes = new Uint8Array(images.length * PIXELS);
  images.forEach((img, i) => bytes.set(img, i * PIXELS));
  return tf.tidy(() => (model.predict(imagesToTensor(bytes, images.length)) as tf.Tensor2D).arraySync());
}

/** A tfjs model as a served version. */
export function tfjsServing(model: tf.LayersModel, fallback?: string): ServedVersion {
  return {
    runtime: 'tfjs',
    ...(fallback === undefined ? {} : { fallback }),
    predict: async (images) => tfjsRows(model, images),
    layers: () => Promise.resolve(model),
    dispose: () => model.dispose(),
  };
}

/**
 * Loads a version for the replica's runtime. With onnx, its model.onnx answers and the tfjs model
 * is loaded only when something needs gradients; a version without a usable ONNX export is served
 * by tfjs, with the reason in `fallback`. A failure to read the files (the registry and the store
 * both away) throws, as a tfjs load does: the next request tries again.
 */
export async function loadServedVersion(files: VersionFiles, runtime: ReplicaRuntime): Promise<ServedVersion> {
  if (runtime.runtime === 'tfjs') return tfjsServing(await loadModelFromBytes(await files.tfjs()));
  let bytes: Uint8Array;
  try {
    bytes = await files.onnx();
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    return tfjsServing(await loadModelFromBytes(await files.tfjs()), err.message);
  }
  let onnx;
  try {
    onnx = await openOnnxModel(runtime.ort, bytes);
  } catch (err) {
    return tfjsServing(await loadModelFromBytes(await files.tfjs()), `onnxruntime-node cannot serve its ${ARTEFACTS.onnx.file}: ${describeError(err)}`);
  }
  return onnxServing(onnx.predict, () => void onnx.release(), files);
}

function onnxServing(predict: ServedVersion['predict'], release: () => void, files: VersionFiles): ServedVersion {
  let layers: Promise<tf.LayersModel> | undefined;
  return {
    runtime: 'onnx',
    predict,
    layers: () => {
      // One load for every caller; a failed one is forgotten so the next call tries again.
      layers ??= files.tfjs().then(loadModelFromBytes);
      layers.catch(() => (layers = undefined));
      return layers;
    },
    dispose: () => {
      release();
      void layers?.then((m) => m.dispose(), () => undefined);
    },
  };
}
