import { PNG } from 'pngjs';
import { readImageHeader } from '@mlpipe/common';
import { IMAGE_SIDE, PIXELS } from './types';

export type PngDecode = { ok: true; pixels: Uint8Array; inverted: boolean } | { ok: false; reason: string };

/**
 * One labelled PNG → 28×28 luminance bytes, white ink on black. Greyscale or colour (by
 * luminance, alpha over black); a picture whose border is mostly bright is taken as dark ink on
 * white paper and inverted. Any other size is refused (the watcher does not guess a crop).
 */
export function decodeDigitPng(bytes: Uint8Array, name: string): PngDecode {
  // The size from IHDR before any decode: a small file declaring 20000×20000 is refused for nothing.
  const header = readImageHeader(bytes);
  if (!header.ok || header.format !== 'png') return { ok: false, reason: `${name} is not a readable PNG (${header.ok ? 'it is a JPEG' : header.reason})` };
  if (header.width !== IMAGE_SIDE || header.height !== IMAGE_SIDE) {
    return { ok: false, reason: `${name} is ${header.width}×${header.height}; expected ${IMAGE_SIDE}×${IMAGE_SIDE}` };
  }
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (err) {
    return { ok: false, reason: `${name} is not a readable PNG (${(err as Error).message})` };
  }
  if (png.width !== IMAGE_SIDE || png.height !== IMAGE_SIDE) {
    return { ok: false, reason: `${name} is ${png.width}×${png.height}; expected ${IMAGE_SIDE}×${IMAGE_SIDE}` };
  }
  const pixels = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    const r = png.data[i * 4] as number;
    const g = png.data[i * 4 + 1] as number;
    const b = png.data[i * 4 + 2] as number;
    const a = (png.data[i * 4 + 3] as number) / 255;
    pixels[i] = Math.round((0.299 * r + 0.587 * g + 0.114 * b) * a);
  }
  const inverted = borderMean(pixels) > 127;
  if (inverted) for (let i = 0; i < PIXELS; i++) pixels[i] = 255 - (pixels[i] as number);
  return { ok: true, pixels, inverted };
}

function borderMean(p: Uint8Array): number {
  let sum = 0;
  let n = 0;
  for (let r = 0; r < IMAGE_SIDE; r++)
    for (let c = 0; c < IMAGE_SIDE; c++)
      if (r === 0 || c === 0 || r === IMAGE_SIDE - 1 || c === IMAGE_SIDE - 1) {
        sum += p[r * IMAGE_SIDE + c] as number;
        n++;
      }
  return sum / n;
}

/** Encodes 28×28 luminance bytes as a greyscale PNG (tests and the feedback path make batches with it). */
export function encodeDigitPng(pixels: Uint8Array): Uint8Array {
  const png = new PNG({ width: IMAGE_SIDE, height: IMAGE_SIDE });
  for (let i = 0; i < PIXELS; i++) {
    const v = pixels[i] as number;
    png.data[i * 4] = v;
    png.data[i * 4 + 1] = v;
    png.data[i * 4 + 2] = v;
    png.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}
