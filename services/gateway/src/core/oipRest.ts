import type { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import { InferenceRequestSchema, type OutputTensor, type Parameters, type TensorRequest } from './oip';
import { encodeRawTensor } from './oipTensors';

/**
 * The REST wire form of inference, with the binary tensor data extension as Triton's HTTP clients
 * use it: a request whose `Inference-Header-Content-Length` header is set carries that many bytes of
 * JSON, then the raw little-endian elements of every input that has `parameters.binary_data_size`,
 * in input order. Outputs asked for with `binary_data: true` (per output) or `binary_data_output: true`
 * (per request) come back the same way. Pure: bytes in, bytes out.
 */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/** A REST inference body (JSON, or JSON header + binary tensors) → a transport-free request. */
export function parseRestInferRequest(body: Buffer, headerLength: string | undefined): TensorRequest {
  const jsonBytes = headerLength === undefined ? body.length : parseHeaderLength(headerLength, body.length);
  const request = parseJsonHeader(body.subarray(0, jsonBytes));
  const binary = body.subarray(jsonBytes);
  let offset = 0;
  const inputs = request.inputs.map((input) => {
    const size = input.parameters?.binary_data_size;
    if (size === undefined) return input;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new ValidationError(
        `input ${input.name}: parameters.binary_data_size must be a whole number of bytes, not ${JSON.stringify(size)}`,
      );
    }
    if (headerLength === undefined)
      throw new ValidationError(
        `input ${input.name} has parameters.binary_data_size but the request has no Inference-Header-Content-Length header`,
      );
    if (input.data !== undefined)
      throw new ValidationError(
        `input ${input.name} has both "data" and parameters.binary_data_size; send one`,
      );
    if (offset + size > binary.length) {
      throw new ValidationError(
        `input ${input.name} wants ${size} bytes of binary data at byte ${offset}, but only ${binary.length} follow the JSON header`,
      );
    }
    const raw = new Uint8Array(binary.subarray(offset, offset + size));
    offset += size;
    return { ...input, raw };
  });
  if (offset !== binary.length) {
    throw new ValidationError(
      `${binary.length} bytes follow the JSON header, but the inputs' binary_data_size add up to ${offset}`,
    );
  }
  checkOutputParameters(request.parameters, request.outputs);
  return { ...request, inputs };
}

function parseHeaderLength(value: string, bodyLength: number): number {
  if (!/^\d{1,12}$/.test(value.trim()))
    throw new ValidationError(`Inference-Header-Content-Length "${value.slice(0, 20)}" is not a byte count`);
  const n = Number(value.trim());
  if (n > bodyLength)
    throw new ValidationError(
      `Inference-Header-Content-Length is ${n}, but the body has only ${bodyLength} bytes`,
    );
  return n;
}

function parseJsonHeader(bytes: Buffer): z.infer<typeof InferenceRequestSchema> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ValidationError(`malformed JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ValidationError('the inference request must be a JSON object');
  const parsed = InferenceRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : 'request'}: ${i.message}`,
    );
    throw new ValidationError(issues.join('; '), { issues });
  }
  return parsed.data;
}

/** The extension's switches are booleans; anything else is refused rather than guessed at. */
function checkOutputParameters(parameters: Parameters | undefined, outputs: TensorRequest['outputs']): void {
  const flag = parameters?.binary_data_output;
  if (flag !== undefined && typeof flag !== 'boolean')
    throw new ValidationError(
      `parameters.binary_data_output must be true or false, not ${JSON.stringify(flag)}`,
    );
  for (const o of outputs ?? []) {
    const b = o.parameters?.binary_data;
    if (b !== undefined && typeof b !== 'boolean')
      throw new ValidationError(
        `output ${o.name}: parameters.binary_data must be true or false, not ${JSON.stringify(b)}`,
      );
  }
}

/** Whether an output goes back as binary data: its own `binary_data` wins over the request's `binary_data_output`. */
export function wantsBinary(request: TensorRequest, output: string): boolean {
  const own = request.outputs?.find((o) => o.name === output)?.parameters?.binary_data;
  return (typeof own === 'boolean' ? own : undefined) ?? request.parameters?.binary_data_output === true;
}

export interface RestInferenceAnswer {
  model_name: string;
  model_version: string;
  id?: string;
  parameters: Parameters;
  outputs: OutputTensor[];
}

/** A REST answer body: plain JSON, or (some output binary) JSON header + raw outputs and the header's length. */
export type RestBody =
  { kind: 'json'; body: object } | { kind: 'binary'; body: Buffer; headerLength: number };

export function encodeRestResponse(answer: RestInferenceAnswer, request: TensorRequest): RestBody {
  const chunks: Uint8Array[] = [];
  const outputs = answer.outputs.map((o) => {
    if (!wantsBinary(request, o.name)) return o;
    const raw = encodeRawTensor(o.datatype, o.data);
    chunks.push(raw);
    return {
      name: o.name,
      datatype: o.datatype,
      shape: o.shape,
      parameters: { binary_data_size: raw.byteLength },
    };
  });
  const json = { ...answer, outputs };
  if (chunks.length === 0) return { kind: 'json', body: json };
  const header = Buffer.from(JSON.stringify(json), 'utf8');
  return { kind: 'binary', body: Buffer.concat([header, ...chunks]), headerLength: header.length };
}
