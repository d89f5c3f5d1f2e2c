import type * as tf from '@tensorflow/tfjs';
import { describeError } from '@mlpipe/common';
import { ARTEFACTS, storeKeys, type LabelledImages, type OnnxExport } from '@mlpipe/contracts';
import { exportOnnx, imagesToTensor, ONNX_OPSET, ONNX_TOLERANCE, verifyOnnx } from '@mlpipe/ml';
import type { ObjectStore } from '@mlpipe/storage';

/** How many test images the export is checked on: enough to cover every class in practice, cheap to run twice. */
export const ONNX_SAMPLE_SIZE = 32;

/**
 * Exports the trained model to ONNX and checks it in onnxruntime-node against tfjs on a sample of
 * the test split; only a verified export is stored (model.onnx beside model.json). The trainer does
 * this rather than the registry because it owns every artefact write and has the model in memory:
 * the registry would have to load tfjs and onnxruntime only to redo it. An export problem leaves
 * the version without ONNX and says why; it does not fail the job.
 */
export async function writeOnnxArtefact(store: ObjectStore, prefix: string, model: tf.LayersModel, test: LabelledImages): Promise<{ onnx: OnnxExport; onnxKey?: string }> {
  const count = Math.min(ONNX_SAMPLE_SIZE, test.count);
  if (count === 0) return { onnx: { status: 'absent', reason: 'the test split is empty, so the ONNX export could not be verified' } };
  const exported = await exportAndVerify(model, test, count);
  if (exported.onnx.status !== 'verified' || !exported.bytes) return { onnx: exported.onnx };
  // A failed write is the store's trouble, like the weights': it fails the attempt, which is retried.
  const onnxKey = storeKeys.artefact(prefix, 'onnx');
  await store.put(onnxKey, exported.bytes, { contentType: ARTEFACTS.onnx.contentType });
  return { onnx: exported.onnx, onnxKey };
}

async function exportAndVerify(model: tf.LayersModel, test: LabelledImages, count: number): Promise<{ onnx: OnnxExport; bytes?: Uint8Array }> {
  const sample = imagesToTensor(test.images, count);
  try {
    const bytes = exportOnnx(model);
    const verdict = await verifyOnnx(bytes, model, sample);
    if (!verdict.verified) return { onnx: { status: 'absent', reason: verdict.reason } };
    return { onnx: { status: 'verified', maxAbsDiff: verdict.maxAbsDiff, tolerance: ONNX_TOLERANCE, samples: verdict.samples, opset: ONNX_OPSET }, bytes };
  } catch (err) {
    return { onnx: { status: 'absent', reason: `the ONNX export failed: ${describeError(err)}` } };
  } finally {
    sample.dispose();
  }
}
