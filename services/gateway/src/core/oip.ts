import { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import { IMAGE_SIDE, PIXELS } from '@mlpipe/contracts';
import { decodeRawTensor, elementBytes, elementCount } from './oipTensors';

/**
 * The Open Inference Protocol v2 as a digit model speaks it, transport-free: the request schema,
 * the model's signature (what its metadata says), validating a request against that signature,
 * and the output tensors of an answer. REST (routes/oip.ts with core/oipRest.ts) and any gRPC
 * adapter turn their wire form into a `TensorRequest`, call `validateDigitRequest`, and build
 * their answer from `inferenceOutputs`.
 */

/** Parameter values as the protocol allows them (gRPC's InferParameter: bool, int64, string, double). */
export const ParametersSchema = z.record(
  z.string().max(128),
  z.union([z.string().max(4096), z.number(), z.boolean()]),
);
export type Parameters = z.infer<typeof ParametersSchema>;

const RequestInputSchema = z
  .object({
    name: z.string().min(1).max(128),
    shape: z.array(z.number().int().nonnegative()).max(8),
    datatype: z.string().max(16),
    parameters: ParametersSchema.optional(),
    // Optional here: with the binary extension the elements follow the JSON instead.
    data: z.array(z.unknown()).optional(),
  })
  .strict();

const RequestOutputSchema = z
  .object({ name: z.string().min(1).max(128), parameters: ParametersSchema.optional() })
  .strict();

/** The JSON inference request (`inference_request` of rest_predict_v2.yaml); unknown fields are refused. */
export const InferenceRequestSchema = z
  .object({
    id: z.string().max(256).optional(),
    parameters: ParametersSchema.optional(),
    inputs: z.array(RequestInputSchema, {
      error: (issue) =>
        issue.input === undefined ? 'inputs is required' : 'inputs must be an array of tensors',
    }),
    outputs: z.array(RequestOutputSchema).optional(),
  })
  .strict();
export type InferenceRequest = z.infer<typeof InferenceRequestSchema>;

/** One input tensor as a transport hands it over: `data` (flat or nested, JSON) or `raw` little-endian bytes. */
export interface InputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Parameters | undefined;
  data?: unknown[] | undefined;
  raw?: Uint8Array | undefined;
}
export interface RequestedOutput {
  name: string;
  parameters?: Parameters | undefined;
}
/** A request in transport-free form. */
export interface TensorRequest {
  id?: string | undefined;
  parameters?: Parameters | undefined;
  inputs: InputTensor[];
  outputs?: RequestedOutput[] | undefined;
}

export interface TensorSpec {
  name: string;
  datatype: string;
  /** -1 for a dimension of any size (the batch). */
  shape: number[];
}

/** What a digit model takes and gives; `modelMetadata` announces exactly this. */
export const DIGIT_INPUT: TensorSpec = { name: 'image', datatype: 'FP32', shape: [-1, 28, 28] };
export const DIGIT_OUTPUTS = [
  { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
  { name: 'class', datatype: 'INT64', shape: [-1] },
] as const satisfies readonly TensorSpec[];
export type DigitOutputName = (typeof DIGIT_OUTPUTS)[number]['name'];

/**
 * Datatypes the input may come in and the range of their values. FP32 is what the metadata says;
 * FP64 and UINT8 (MNIST's own bytes) are the same pixels in other encodings, accepted as a convenience.
 */
const INPUT_RANGES: Readonly<Record<string, 'unit' | 'byte'>> = { FP32: 'unit', FP64: 'unit', UINT8: 'byte' };
export const MAX_BATCH = 256;

/** A request checked against the digit model's signature: its images and the outputs it wants, in order. */
export interface DigitInference {
  id?: string | undefined;
  parameters: Parameters;
  /** Per image, 784 values in `range`. */
  values: number[][];
  range: 'unit' | 'byte';
  outputs: RequestedOutput[];
}

/** Checks a request against the model's signature; every mismatch is a ValidationError (HTTP 400) naming it. */
export function validateDigitRequest(req: TensorRequest): DigitInference {
  if (req.inputs.length !== 1) {
    throw new ValidationError(
      `a digit model takes exactly one input tensor, "${DIGIT_INPUT.name}"; the request has ${req.inputs.length}`,
    );
  }
  const input = req.inputs[0] as InputTensor;
  if (input.name !== DIGIT_INPUT.name)
    throw new ValidationError(
      `unknown input "${input.name}": the model's input is "${DIGIT_INPUT.name}" (see its metadata)`,
    );
  const range = INPUT_RANGES[input.datatype];
  if (!range)
    throw new ValidationError(
      `datatype ${input.datatype} is not supported for input ${input.name}; use FP32 (0-1, as the metadata says), FP64 (0-1) or UINT8 (0-255)`,
    );
  const count = batchOf(input);
  const flat = inputElements(input);
  const needed = elementCount(input.shape);
  if (flat.length !== needed)
    throw new ValidationError(
      `input ${input.name} holds ${flat.length} values; shape [${input.shape.join(',')}] needs ${needed}`,
    );
  checkElements(input, flat);
  const numbers = flat as number[];
  return {
    id: req.id,
    parameters: req.parameters ?? {},
    values: Array.from({ length: count }, (_, i) => numbers.slice(i * PIXELS, (i + 1) * PIXELS)),
    range,
    outputs: requestedOutputs(req.outputs),
  };
}

/** The batch size a shape means: [N,28,28], [N,28,28,1], [N,784], or one image as [784]. */
function batchOf(input: InputTensor): number {
  const shape = input.shape;
  const single = shape.length === 1;
  const per = elementCount(shape.slice(1));
  const grid = shape[1] === IMAGE_SIDE && shape[2] === IMAGE_SIDE;
  const layoutOk = single
    ? shape[0] === PIXELS
    : (shape.length === 2 && per === PIXELS) ||
      (shape.length === 3 && grid) ||
      (shape.length === 4 && grid && shape[3] === 1);
  if (!layoutOk)
    throw new ValidationError(
      `input ${input.name} has shape [${shape.join(',')}]; expected [N,28,28], [N,28,28,1] or [N,784] (the metadata's [-1,28,28])`,
    );
  const count = single ? 1 : (shape[0] as number);
  if (count < 1 || count > MAX_BATCH)
    throw new ValidationError(`batch of ${count}: between 1 and ${MAX_BATCH} images per request`);
  return count;
}

/** The input's elements, flattened row-major, from whichever form the transport gave. */
function inputElements(input: InputTensor): unknown[] {
  if (input.raw !== undefined && input.data !== undefined)
    throw new ValidationError(`input ${input.name} has both "data" and binary data; send one`);
  if (input.raw !== undefined) {
    const size = elementBytes(input.datatype) as number;
    const expected = elementCount(input.shape) * size;
    if (input.raw.byteLength !== expected) {
      throw new ValidationError(
        `input ${input.name} has ${input.raw.byteLength} bytes of binary data; shape [${input.shape.join(',')}] of ${input.datatype} needs ${expected}`,
      );
    }
    return decodeRawTensor(input.datatype, input.raw, `input ${input.name}`);
  }
  if (input.data === undefined)
    throw new ValidationError(
      `input ${input.name} has no data: send "data", or binary data with parameters.binary_data_size`,
    );
  // Flattened to the shape's depth only: deeper nesting than the shape says stays an array and is refused below.
  return input.data.flat(Math.max(input.shape.length - 1, 0));
}

function checkElements(input: InputTensor, flat: unknown[]): void {
  if (flat.some((v) => typeof v !== 'number'))
    throw new ValidationError(`input ${input.name} must hold numbers only (datatype ${input.datatype})`);
  if (input.datatype === 'UINT8' && (flat as number[]).some((v) => !Number.isInteger(v)))
    throw new ValidationError(`input ${input.name} is UINT8: whole numbers 0-255 only`);
}

/** The outputs asked for, in the order asked; none named (or an empty list) means all of them. */
function requestedOutputs(outputs: RequestedOutput[] | undefined): RequestedOutput[] {
  if (!outputs || outputs.length === 0) return DIGIT_OUTPUTS.map((o) => ({ name: o.name }));
  const seen = new Set<string>();
  for (const o of outputs) {
    if (!DIGIT_OUTPUTS.some((d) => d.name === o.name)) {
      throw new ValidationError(
        `unknown output "${o.name}": the model's outputs are ${DIGIT_OUTPUTS.map((d) => `"${d.name}"`).join(', ')}`,
      );
    }
    if (seen.has(o.name)) throw new ValidationError(`output "${o.name}" is requested twice`);
    seen.add(o.name);
  }
  return outputs;
}

/** An output tensor of an answer, elements flat and row-major. */
export interface OutputTensor {
  name: DigitOutputName;
  datatype: string;
  shape: number[];
  data: number[];
}

/** The requested outputs of a batch's class probabilities (one row per image), in the order requested. */
export function inferenceOutputs(
  probabilities: number[][],
  requested: readonly RequestedOutput[],
): OutputTensor[] {
  const all: Record<DigitOutputName, () => OutputTensor> = {
    probabilities: () => ({
      name: 'probabilities',
      datatype: 'FP32',
      shape: [probabilities.length, 10],
      data: probabilities.flat(),
    }),
    class: () => ({
      name: 'class',
      datatype: 'INT64',
      shape: [probabilities.length],
      data: probabilities.map(argmax),
    }),
  };
  return requested.map((r) => all[r.name as DigitOutputName]());
}

/** The server metadata (`GET /v2`): the extensions are the ones this gateway implements. */
export const SERVER_EXTENSIONS = ['binary_tensor_data', 'parameters'] as const;
export function serverMetadata() {
  return { name: 'mlpipe-gateway', version: '0.1.0', extensions: [...SERVER_EXTENSIONS] };
}

export function modelMetadata(name: string, versions: number[]) {
  return {
    name,
    versions: versions.map(String),
    platform: 'tensorflowjs',
    inputs: [{ ...DIGIT_INPUT, shape: [...DIGIT_INPUT.shape] }],
    outputs: DIGIT_OUTPUTS.map((o) => ({ ...o, shape: [...o.shape] })),
  };
}

export function argmax(p: number[]): number {
  return p.reduce((best, v, i) => (v > (p[best] as number) ? i : best), 0);
}
