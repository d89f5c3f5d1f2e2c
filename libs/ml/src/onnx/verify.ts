import * as tf from '@tensorflow/tfjs';
import type * as OnnxRuntimeModule from 'onnxruntime-node';
import { ONNX_INPUT, ONNX_OUTPUT } from './export';

/** The bar: every ONNX output within 1e-5 of tfjs's on the sample batch. */
export const ONNX_TOLERANCE = 1e-5;

/** The outcome of running an export beside its tfjs model; a failed check says why, for the model card. */
export type OnnxVerdict = { verified: true; maxAbsDiff: number; samples: number } | { verified: false; reason: string; maxAbsDiff?: number };

type OnnxRuntime = typeof OnnxRuntimeModule;

/**
 * onnxruntime-node, or undefined when it is not installed: it is a native package, and a machine
 * without it still trains (its versions then carry no verified ONNX and say so).
 */
export async function loadOnnxRuntime(specifier = 'onnxruntime-node'): Promise<OnnxRuntime | undefined> {
  try {
    return (await import(specifier)) as OnnxRuntime;
  } catch {
    return undefined;
  }
}

/**
 * Runs the ONNX bytes in onnxruntime-node on `sample` (NHWC, as tfjs takes it) and compares with
 * the tfjs model's own prediction. Any failure (no runtime, a model the runtime refuses, a wrong
 * shape, a difference above the tolerance) is a verdict, not an exception: the caller decides.
 */
export async function verifyOnnx(onnxBytes: Uint8Array, model: tf.LayersModel, sample: tf.Tensor, tolerance = ONNX_TOLERANCE, runtime?: OnnxRuntime): Promise<OnnxVerdict> {
  const ort = runtime ?? (await loadOnnxRuntime());
  if (!ort) return { verified: false, reason: 'onnxruntime-node is not installed, so the ONNX export could not be verified' };
  const expected = tf.tidy(() => model.predict(sample) as tf.Tensor);
  const want = expected.dataSync() as Float32Array;
  const wantShape = expected.shape;
  expected.dispose();
  let session: Awaited<ReturnType<OnnxRuntime['InferenceSession']['create']>> | undefined;
  try {
    session = await ort.InferenceSession.create(onnxBytes);
    const input = new ort.Tensor('float32', Float32Array.from(sample.dataSync()), sample.shape);
    const out = (await session.run({ [ONNX_INPUT]: input }))[ONNX_OUTPUT];
    if (!out) return { verified: false, reason: `the ONNX model has no output named ${ONNX_OUTPUT}` };
    if (out.dims.join(',') !== wantShape.join(',')) return { verified: false, reason: `the ONNX output has shape [${out.dims.join(',')}], tfjs gives [${wantShape.join(',')}]` };
    const got = out.data as Float32Array;
    let maxAbsDiff = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i]! - want[i]!);
      // A NaN from either side is a mismatch, not a difference of 0.
      if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    }
    if (!(maxAbsDiff <= tolerance)) return { verified: false, maxAbsDiff, reason: `ONNX outputs differ from tfjs by up to ${maxAbsDiff.toExponential(2)} (tolerance ${tolerance})` };
    return { verified: true, maxAbsDiff, samples: sample.shape[0] ?? 1 };
  } catch (err) {
    return { verified: false, reason: `onnxruntime-node could not run the export: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await session?.release();
  }
}
