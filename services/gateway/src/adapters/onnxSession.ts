import { toNumberArray } from '@mlpipe/common';
import { ARTEFACTS } from '@mlpipe/contracts';
import { IMAGE_SIDE, NUM_CLASSES, ONNX_INPUT, ONNX_OUTPUT, PIXELS, type loadOnnxRuntime } from '@mlpipe/ml';

/** The file's name in messages, from the artefact layout (libs/contracts keys.ts). */
const FILE = ARTEFACTS.onnx.file;

/** onnxruntime-node as @mlpipe/ml loads it (the gateway reaches the native package only through it). */
export type OnnxRuntime = NonNullable<Awaited<ReturnType<typeof loadOnnxRuntime>>>;
type Session = Awaited<ReturnType<OnnxRuntime['InferenceSession']['create']>>;

/** A version's model.onnx opened for serving: one call per batch, one row of probabilities per image. */
export interface OnnxModel {
  predict(images: Uint8Array[]): Promise<number[][]>;
  release(): Promise<void>;
}

/**
 * One intra-op thread and sequential execution: a replica is scaled per core (compose, the chart's
 * replicas), and the edge, the load and the other replicas need the other cores; a session that
 * spread every call over all of them would fight its neighbours (bench/results/serve-runtimes-*:
 * the default thread count was no faster on this 2-core machine).
 */
const SESSION_OPTIONS = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' } as const;

/**
 * Opens the exporter's model.onnx, after checking it is the signature the gateway feeds: `image`
 * float32 [N,28,28,1] with N free (dynamic batching stacks any number of images into one call),
 * `probabilities` [N,10]. A file that does not fit throws, saying what it has; the caller then
 * serves the version with tfjs.
 */
export async function openOnnxModel(ort: OnnxRuntime, bytes: Uint8Array): Promise<OnnxModel> {
  const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  const problem = signatureProblem(session);
  if (problem) {
    await session.release();
    throw new Error(problem);
  }
  return {
    predict: async (images) => {
      const input = new ort.Tensor('float32', toFloats(images), [images.length, IMAGE_SIDE, IMAGE_SIDE, 1]);
      const output = (await session.run({ [ONNX_INPUT]: input }))[ONNX_OUTPUT];
      if (!output) throw new Error(`${FILE} gave no ${ONNX_OUTPUT} output`);
      const data = output.data as Float32Array;
      return images.map((_, r) => toNumberArray(data.subarray(r * NUM_CLASSES, (r + 1) * NUM_CLASSES)));
    },
    release: () => session.release(),
  };
}

function signatureProblem(session: Session): string | undefined {
  const input = session.inputMetadata.find((m) => m.name === ONNX_INPUT);
  const output = session.outputMetadata.find((m) => m.name === ONNX_OUTPUT);
  if (!input?.isTensor || !output?.isTensor) return `${FILE} takes [${session.inputNames.join(', ')}] and gives [${session.outputNames.join(', ')}], not ${ONNX_INPUT} → ${ONNX_OUTPUT}`;
  const shape = (s: readonly (number | string)[]) => `[${s.join(',')}]`;
  if (input.type !== 'float32' || input.shape.length !== 4 || input.shape.slice(1).join(',') !== `${IMAGE_SIDE},${IMAGE_SIDE},1`)
    return `${FILE} takes ${input.type} ${shape(input.shape)}, not float32 [N,${IMAGE_SIDE},${IMAGE_SIDE},1]`;
  // A fixed batch dimension would refuse every batch of another size: only a named (free) one serves the batcher.
  if (typeof input.shape[0] !== 'string') return `${FILE} has a fixed batch dimension ${shape(input.shape)}; batched requests need a free one`;
  if (output.shape.length !== 2 || output.shape[1] !== NUM_CLASSES) return `${FILE} gives ${shape(output.shape)}, not [N,${NUM_CLASSES}]`;
  return undefined;
}

/** The bytes as the exporter's input wants them, exactly as tfjs gets them (imagesToTensor): [0,1] floats, NHWC. */
function toFloats(images: Uint8Array[]): Float32Array {
  const out = new Float32Array(images.length * PIXELS);
  images.forEach((img, i) => {
    for (let p = 0; p < PIXELS; p++) out[i * PIXELS + p] = (img[p] as number) / 255;
  });
  return out;
}
