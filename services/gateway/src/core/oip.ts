import { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import { PIXELS } from '@mlpipe/contracts';

/** Open Inference Protocol v2 request (the subset of fields a digit model reads; unknown fields rejected). */
export const InferenceRequestSchema = z
  .object({
    id: z.string().max(256).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    inputs: z
      .array(
        z
          .object({
            name: z.string().min(1).max(128),
            shape: z.array(z.number().int().nonnegative()).min(1).max(4),
            datatype: z.string(),
            parameters: z.record(z.string(), z.unknown()).optional(),
            data: z.array(z.unknown()),
          })
          .strict(),
      )
      .length(1, 'a digit model takes exactly one input tensor'),
    outputs: z.array(z.object({ name: z.string(), parameters: z.record(z.string(), z.unknown()).optional() }).strict()).optional(),
  })
  .strict();
export type InferenceRequest = z.infer<typeof InferenceRequestSchema>;

/**
 * The images of a request as 28×28 arrays: shape [N,28,28], [N,28,28,1], [N,784] or [784];
 * FP32/FP64 in [0,1] or UINT8 in [0,255]; data flat or nested, row-major.
 */
export function requestImages(req: InferenceRequest): { values: number[][]; range: 'unit' | 'byte' } {
  const input = req.inputs[0]!;
  const shape = input.shape;
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  const single = shape.length === 1;
  const count = single ? 1 : (shape[0] as number);
  if ((single ? shape[0] : per) !== PIXELS || (!single && ![2, 3, 4].includes(shape.length)) || (shape.length === 4 && shape[3] !== 1)) {
    throw new ValidationError(`input ${input.name} has shape [${shape.join(',')}]; expected [N,28,28], [N,28,28,1] or [N,784]`);
  }
  if (count < 1 || count > 256) throw new ValidationError(`batch of ${count}: between 1 and 256 images per request`);
  const range = input.datatype === 'UINT8' ? 'byte' : input.datatype === 'FP32' || input.datatype === 'FP64' ? 'unit' : undefined;
  if (!range) throw new ValidationError(`datatype ${input.datatype} is not supported; use FP32 (0-1) or UINT8 (0-255)`);
  const flat = (input.data as unknown[]).flat(4);
  if (flat.length !== count * PIXELS) throw new ValidationError(`input ${input.name} holds ${flat.length} values; shape [${shape.join(',')}] needs ${count * PIXELS}`);
  if (flat.some((v) => typeof v !== 'number')) throw new ValidationError(`input ${input.name} must hold numbers only`);
  const numbers = flat as number[];
  return { values: Array.from({ length: count }, (_, i) => numbers.slice(i * PIXELS, (i + 1) * PIXELS)), range };
}

export function inferenceResponse(model: string, version: number, probabilities: number[][], id?: string) {
  return {
    model_name: model,
    model_version: String(version),
    ...(id ? { id } : {}),
    outputs: [
      { name: 'probabilities', shape: [probabilities.length, 10], datatype: 'FP32', data: probabilities.flat() },
      { name: 'class', shape: [probabilities.length], datatype: 'INT64', data: probabilities.map(argmax) },
    ],
  };
}

export function modelMetadata(name: string, versions: number[]) {
  return {
    name,
    versions: versions.map(String),
    platform: 'tensorflowjs',
    inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28] }],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
      { name: 'class', datatype: 'INT64', shape: [-1] },
    ],
  };
}

export function argmax(p: number[]): number {
  return p.reduce((best, v, i) => (v > (p[best] as number) ? i : best), 0);
}
