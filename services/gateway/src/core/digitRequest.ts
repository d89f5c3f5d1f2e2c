import { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import type { DigitInput } from '@mlpipe/ml';
import { checkImageUpload, type ImageLimits } from './imageLimits';

const PredictJsonSchema = z
  .object({
    model: z.string().max(100).default('mnist'),
    image: z.string().max(2_000_000).optional(),
    // Checked by flatPixels, not element by element in zod: a union per pixel cost more than the model call.
    pixels: z.unknown().optional(),
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
  if (!!b.image === (b.pixels !== undefined)) throw new ValidationError('send either "image" (base64 PNG/JPEG) or "pixels" (28×28 numbers)');
  if (b.image) {
    const bytes = new Uint8Array(Buffer.from(b.image.replace(/^data:image\/\w+;base64,/, ''), 'base64'));
    checkImageUpload(bytes, limits);
    return { input: { kind: 'image', bytes }, selector: b.model };
  }
  return { input: { kind: 'array28', values: flatPixels(b.pixels), range: b.range }, selector: b.model };
}

/**
 * `pixels` as numbers in a row (returned as they are, the usual case) or as rows of numbers
 * (flattened); anything else is refused, naming the place.
 */
export function flatPixels(pixels: unknown): readonly number[] {
  if (!Array.isArray(pixels)) throw new ValidationError(`pixels: expected 784 numbers or 28 rows of numbers, got ${describe(pixels)}`);
  let flat = true;
  for (let i = 0; i < pixels.length && flat; i++) flat = typeof pixels[i] === 'number';
  if (flat) return pixels as number[];
  const out: number[] = [];
  for (let i = 0; i < pixels.length; i++) {
    const p: unknown = pixels[i];
    if (typeof p === 'number') out.push(p);
    else if (Array.isArray(p)) {
      for (let j = 0; j < p.length; j++) {
        const q: unknown = p[j];
        if (typeof q !== 'number') throw new ValidationError(`pixels.${i}.${j}: expected a number, got ${describe(q)}`);
        out.push(q);
      }
    } else throw new ValidationError(`pixels.${i}: expected a number or a row of numbers, got ${describe(p)}`);
  }
  return out;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}
