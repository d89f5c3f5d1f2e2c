import { ValidationError } from '@mlpipe/common';
import { ModelNameSchema } from '@mlpipe/contracts';
import { InferenceRequestSchema, type InputTensor, type OutputTensor, type Parameters, type TensorRequest } from './oip';
import type { Route, Routing } from './routing';
import { encodeRawTensor } from './oipTensors';

/**
 * The gRPC wire form of the Open Inference Protocol v2 (proto/grpc_predict_v2.proto), pure: a
 * decoded `ModelInferRequest` becomes the same transport-free `TensorRequest` that REST makes, so
 * core/oip.ts validates both alike; an `InferenceAnswer` becomes a `ModelInferResponse`. Tensors
 * come as typed `contents` (one repeated field per datatype family) or as `raw_input_contents`
 * (one little-endian byte string per input, core/oipTensors.ts); a request that sends raw inputs
 * gets raw outputs back (`raw_output_contents`), as Triton answers.
 */

/** Message shapes as @grpc/proto-loader decodes them (keepCase, longs as numbers, arrays always set). */
export interface GrpcInferParameter {
  bool_param?: boolean;
  int64_param?: number | string;
  string_param?: string;
  parameter_choice?: string;
}
export type GrpcParameters = Record<string, GrpcInferParameter>;
export interface GrpcTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}
export interface GrpcInferInput {
  name?: string;
  datatype?: string;
  shape?: number[];
  parameters?: GrpcParameters;
  contents?: GrpcTensorContents | null;
}
export interface GrpcModelInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: GrpcParameters;
  inputs?: GrpcInferInput[];
  outputs?: { name?: string; parameters?: GrpcParameters }[];
  raw_input_contents?: Uint8Array[];
}
export interface GrpcInferOutput {
  name: string;
  datatype: string;
  shape: number[];
  contents?: GrpcTensorContents;
}
export interface GrpcModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: GrpcParameters;
  outputs: GrpcInferOutput[];
  raw_output_contents: Uint8Array[];
}

/** Which `InferTensorContents` field holds a datatype's elements; FP16 has none (raw only). */
export const CONTENTS_FIELD: Readonly<Record<string, keyof GrpcTensorContents>> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** Which route a request names: the model (routing policy: pin, canary, shadow) or one version of it. */
export function grpcRoute(routing: Routing, modelName: string | undefined, modelVersion: string | undefined): Route {
  const { name, version } = grpcModel(modelName, modelVersion);
  return version === undefined ? routing.forName(name) : routing.forVersion(name, version);
}

/** The model name and version of a request, checked as REST checks its path; "" (proto3's unset) means no version. */
export function grpcModel(modelName: string | undefined, modelVersion: string | undefined): { name: string; version?: number } {
  const name = modelName ?? '';
  if (!ModelNameSchema.safeParse(name).success)
    throw new ValidationError(
      name === '' ? 'model_name is required' : `model name "${name.slice(0, 40)}": model names are lower-case letters, digits and "-"`,
    );
  if (!modelVersion) return { name };
  if (!/^[1-9]\d{0,8}$/.test(modelVersion))
    throw new ValidationError(`model version "${modelVersion.slice(0, 20)}" is not a positive whole number`);
  return { name, version: Number(modelVersion) };
}

/** A decoded ModelInferRequest → the transport-free request core/oip.ts validates (same schema and bounds as REST). */
export function parseGrpcInferRequest(msg: GrpcModelInferRequest): TensorRequest {
  const inputs = msg.inputs ?? [];
  const raw = msg.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== inputs.length)
    throw new ValidationError(
      `raw_input_contents has ${raw.length} entries for ${inputs.length} inputs: send one per input, in input order, or none`,
    );
  const header = {
    ...(msg.id ? { id: msg.id } : {}),
    ...(msg.parameters && Object.keys(msg.parameters).length ? { parameters: fromGrpcParameters(msg.parameters, 'request') } : {}),
    inputs: inputs.map((i) => ({
      name: i.name ?? '',
      datatype: i.datatype ?? '',
      shape: i.shape ?? [],
      ...(i.parameters && Object.keys(i.parameters).length ? { parameters: fromGrpcParameters(i.parameters, `input ${i.name ?? ''}`) } : {}),
    })),
    ...(msg.outputs?.length
      ? {
          outputs: msg.outputs.map((o) => ({
            name: o.name ?? '',
            ...(o.parameters && Object.keys(o.parameters).length ? { parameters: fromGrpcParameters(o.parameters, `output ${o.name ?? ''}`) } : {}),
          })),
        }
      : {}),
  };
  const parsed = InferenceRequestSchema.safeParse(header);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'request'}: ${i.message}`);
    throw new ValidationError(issues.join('; '), { issues });
  }
  return {
    ...parsed.data,
    inputs: parsed.data.inputs.map((input, i): InputTensor => {
      const bytes = raw[i];
      const data = typedContents(input.name, input.datatype, inputs[i]?.contents ?? undefined);
      if (bytes === undefined && data === undefined)
        throw new ValidationError(
          `input ${input.name} has no elements: fill contents.${CONTENTS_FIELD[input.datatype] ?? '<field of its datatype>'} or raw_input_contents`,
        );
      return { ...input, ...(data !== undefined ? { data } : {}), ...(bytes !== undefined ? { raw: new Uint8Array(bytes) } : {}) };
    }),
  };
}

/** The elements of a typed `contents`, from the one field its datatype uses; any other field filled is refused. */
function typedContents(name: string, datatype: string, contents: GrpcTensorContents | undefined): unknown[] | undefined {
  const filled = Object.entries(contents ?? {}).filter(([, v]) => Array.isArray(v) && v.length > 0) as [string, unknown[]][];
  if (filled.length === 0) return undefined;
  const field = CONTENTS_FIELD[datatype];
  const stray = filled.filter(([k]) => k !== field).map(([k]) => `contents.${k}`);
  if (!field) throw new ValidationError(`input ${name}: datatype ${datatype} has no typed contents; send raw_input_contents`);
  if (stray.length) throw new ValidationError(`input ${name} is ${datatype}: its elements go in contents.${field}, not ${stray.join(', ')}`);
  return filled[0]?.[1];
}

/** InferParameter map → plain parameters; an entry with no value set is refused rather than guessed at. */
export function fromGrpcParameters(params: GrpcParameters, what: string): Parameters {
  const out: Parameters = {};
  for (const [key, p] of Object.entries(params)) {
    const choice = p.parameter_choice ?? (['bool_param', 'int64_param', 'string_param'] as const).find((c) => p[c] !== undefined);
    if (choice === 'bool_param' && p.bool_param !== undefined) out[key] = p.bool_param;
    else if (choice === 'int64_param' && p.int64_param !== undefined) out[key] = Number(p.int64_param);
    else if (choice === 'string_param' && p.string_param !== undefined) out[key] = p.string_param;
    else throw new ValidationError(`${what}: parameter "${key}" has no value (set bool_param, int64_param or string_param)`);
  }
  return out;
}

/** Plain parameters → InferParameter map. The proto has no double: a fractional number goes as its decimal string. */
export function toGrpcParameters(params: Parameters): GrpcParameters {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]): [string, GrpcInferParameter] => [
      k,
      typeof v === 'boolean' ? { bool_param: v } : typeof v === 'number' && Number.isSafeInteger(v) ? { int64_param: v } : { string_param: String(v) },
    ]),
  );
}

/** What an answer holds (app/oipInference's InferenceAnswer), as this encoder needs it. */
export interface GrpcInferenceAnswer {
  model_name: string;
  model_version: string;
  id?: string;
  parameters: Parameters;
  outputs: OutputTensor[];
}

/** Whether a request sent its tensors raw, so its answer goes back raw too. */
export const usesRawContents = (msg: GrpcModelInferRequest): boolean => (msg.raw_input_contents?.length ?? 0) > 0;

/** An answer → ModelInferResponse: typed contents per output, or (raw) each output's bytes in raw_output_contents, in output order. */
export function encodeGrpcInferResponse(answer: GrpcInferenceAnswer, raw: boolean): GrpcModelInferResponse {
  return {
    model_name: answer.model_name,
    model_version: answer.model_version,
    id: answer.id ?? '',
    parameters: toGrpcParameters(answer.parameters),
    outputs: answer.outputs.map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: o.shape,
      ...(raw ? {} : { contents: { [CONTENTS_FIELD[o.datatype] as keyof GrpcTensorContents]: o.data } }),
    })),
    raw_output_contents: raw ? answer.outputs.map((o) => encodeRawTensor(o.datatype, o.data)) : [],
  };
}
