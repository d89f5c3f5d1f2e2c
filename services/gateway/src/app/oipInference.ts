import { digitToBytes } from '@mlpipe/ml';
import { inferenceOutputs, type DigitInference, type OutputTensor, type Parameters } from '../core/oip';
import type { Route } from '../core/routing';
import type { Predictor } from './predictor';

/** An answered inference, transport-free: REST encodes it as JSON (or binary), gRPC as a ModelInferResponse. */
export interface InferenceAnswer {
  model_name: string;
  model_version: string;
  id?: string;
  /** The variant that answered and the ids the samples are kept under. */
  parameters: Parameters;
  outputs: OutputTensor[];
}

/**
 * Runs a validated Open Inference Protocol request through the predictor (routing, sampling and
 * shadowing as for every other route) and returns the outputs it asked for.
 */
export async function answerInference(
  predictor: Predictor,
  route: Route,
  inference: DigitInference,
): Promise<InferenceAnswer> {
  const images = inference.values.map((values) =>
    digitToBytes({ kind: 'array28', values, range: inference.range }),
  );
  const { loaded, probabilities, variant, predictionIds } = await predictor.answer(route, images);
  return {
    model_name: loaded.name,
    model_version: String(loaded.version),
    ...(inference.id !== undefined ? { id: inference.id } : {}),
    parameters: { variant, prediction_ids: predictionIds.join(',') },
    outputs: inferenceOutputs(probabilities, inference.outputs),
  };
}
