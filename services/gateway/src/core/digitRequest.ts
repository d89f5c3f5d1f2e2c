import { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import type { DigitInput } from '@mlpipe/ml';
import { checkImageUpload, type ImageLimits } from './imageLimits';

const PredictJsonSchema = z
  .object({
    model: z.string().max(100).default('mnist'),
    image: z.string().max(2_000_000).optional(),
    pixels: z.array(z.union([z.number(), z.array(z.number())])).optional(),
    range: z.enum(['unit', 'byte']).default('unit'),
  })
  .strict();

/**
 * The image and model selector a /predict or /explain request names, whatever way it was sent: an
 * uploaded PNG/JPEG body (the model in `?model=`), or JSON with a base64 `image` or 28×28 `pixels`.
 * An image past the limits is refused here, from its header, before anything decodes it.
 */
export function readDigitRequest(body: unknown, query: unknown, limits: ImageLimits): { input: DigitInput; selector: string } {
  if (Buffer.isBuffer(body)) {
    const model = (query as { model?: unknown } | undefined)?.model;
    const bytes = new Uint8Array(body);
    checkImageUpload(bytes, limits);
    return { input: { kind: 'image', bytes }, selector: typeof model === 'string' ? model : 'mnist' };
  }
  const parsed = PredictJsonSchema.safeParse(body ?? {});
  if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  const b = parsed.data;
  if (!!b.image === !!b.pixels) throw new ValidationError('send either "image" (base64 PNG/JPEG) or "pixels" (28×28 numbers)');
  if (b.image) {
    const bytes = new Uint8Array(Buffer.from(b.image.replace(/^data:image\/\w+;base64,/, ''), 'base64'));
    checkImageUpload(bytes, limits);
    return { input: { kind: 'image', bytes }, selector: b.model };
  }
  return { input: { kind: 'array28', values: (b.pixels as (number | number[])[]).flat(), range: b.range }, selector: b.model };
}
