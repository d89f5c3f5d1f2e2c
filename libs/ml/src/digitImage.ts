import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { ValidationError, readImageHeader } from '@mlpipe/common';
import { IMAGE_SIDE as SIDE, PIXELS } from './preprocess';

/** A greyscale picture of any size: 0 black … 255 white, row-major. */
export interface GreyImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export const MAX_IMAGE_SIDE = 4096;
/** Pixels an upload may have unless the caller says otherwise: a few megapixels, far more than a photo of a digit needs. */
export const DEFAULT_MAX_IMAGE_PIXELS = 4_000_000;
/** Memory jpeg-js may allocate for one decode unless the caller says otherwise. */
export const DEFAULT_MAX_DECODE_MB = 128;
const BOX = 20;
const INK_THRESHOLD = 32;

/** Bounds of one decode: pixels the header may declare, and the memory the JPEG decoder may take. */
export interface DecodeLimits {
  maxPixels?: number;
  maxDecodeMB?: number;
}

/**
 * Decodes a PNG or JPEG upload to greyscale (luminance, alpha composited on black). The size comes
 * from the header first and is refused past the limits before anything is decoded: pngjs allocates
 * (and inflates up to) what IHDR declares, so checking IHDR bounds the PNG decode; jpeg-js is told
 * the same pixel bound and a memory bound as well.
 */
export function decodeImage(bytes: Uint8Array, limits: DecodeLimits = {}): GreyImage {
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const header = readImageHeader(bytes);
  if (!header.ok) {
    const isPng = bytes[0] === 0x89 && bytes[1] === 0x50;
    const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
    throw new ValidationError(isPng || isJpeg ? `the ${isPng ? 'PNG' : 'JPEG'} image cannot be decoded: ${header.reason}` : header.reason);
  }
  refuseOversized(header.width, header.height, maxPixels);
  const isPng = header.format === 'png';
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes));
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const img = jpeg.decode(bytes, { useTArray: true, maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: limits.maxDecodeMB ?? DEFAULT_MAX_DECODE_MB });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (cause) {
    throw new ValidationError(`the ${isPng ? 'PNG' : 'JPEG'} image cannot be decoded: ${(cause as Error).message}`, { cause });
  }
  // The decoder's own idea of the size, in case it differs from the header's.
  refuseOversized(width, height, maxPixels);
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    const a = (rgba[i * 4 + 3] as number) / 255;
    pixels[i] = Math.round((0.299 * (rgba[i * 4] as number) + 0.587 * (rgba[i * 4 + 1] as number) + 0.114 * (rgba[i * 4 + 2] as number)) * a);
  }
  return { width, height, pixels };
}

function refuseOversized(width: number, height: number, maxPixels: number): void {
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) throw new ValidationError(`the image is ${width}×${height}; at most ${MAX_IMAGE_SIDE} pixels a side`, { code: 'image_too_large' });
  if (width * height > maxPixels) throw new ValidationError(`the image is ${width}×${height} (${width * height} pixels); at most ${maxPixels} pixels`, { code: 'image_too_large' });
}

/**
 * What MNIST did to its digits, for pictures drawn or photographed by people: ink made white on
 * black (a bright border means dark ink on paper), cropped to the ink's bounding box, scaled so
 * its longer side is 20 pixels keeping the aspect ratio (averaging, so thin strokes survive), and
 * placed in a 28×28 field with its centre of mass at the centre. Returns 784 bytes.
 */
export function mnistNormalise(img: GreyImage): Uint8Array {
  const { width: w, height: h } = img;
  if (w < 1 || h < 1 || img.pixels.length !== w * h) throw new ValidationError(`image data does not match its size ${w}×${h}`);
  const ink = borderMean(img) > 127 ? img.pixels.map((v) => 255 - v) : img.pixels;
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if ((ink[y * w + x] as number) > INK_THRESHOLD) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
  if (x1 < 0) throw new ValidationError('the image has no ink: nothing to recognise');
  const cw = x1 - x0 + 1;
  const ch = y1 - y0 + 1;
  const scale = BOX / Math.max(cw, ch);
  const nw = Math.max(1, Math.round(cw * scale));
  const nh = Math.max(1, Math.round(ch * scale));
  const box = resampleArea(ink, w, x0, y0, cw, ch, nw, nh);

  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < nh; y++)
    for (let x = 0; x < nw; x++) {
      const v = box[y * nw + x] as number;
      mass += v;
      mx += v * x;
      my += v * y;
    }
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  const ox = clamp(Math.round((SIDE - 1) / 2 - mx / mass), SIDE - nw);
  const oy = clamp(Math.round((SIDE - 1) / 2 - my / mass), SIDE - nh);
  const out = new Uint8Array(PIXELS);
  for (let y = 0; y < nh; y++)
    for (let x = 0; x < nw; x++) out[(oy + y) * SIDE + ox + x] = Math.round(box[y * nw + x] as number);
  return out;
}

/** Area-averaging resample of a crop: each output pixel is the mean of the source area it covers. */
function resampleArea(src: Uint8Array, stride: number, x0: number, y0: number, cw: number, ch: number, nw: number, nh: number): Float32Array {
  const out = new Float32Array(nw * nh);
  const sx = cw / nw;
  const sy = ch / nh;
  for (let oy = 0; oy < nh; oy++) {
    const top = oy * sy;
    const bottom = top + sy;
    for (let ox = 0; ox < nw; ox++) {
      const left = ox * sx;
      const right = left + sx;
      let sum = 0;
      let area = 0;
      for (let y = Math.floor(top); y < Math.ceil(bottom); y++) {
        const wy = Math.min(bottom, y + 1) - Math.max(top, y);
        for (let x = Math.floor(left); x < Math.ceil(right); x++) {
          const wx = Math.min(right, x + 1) - Math.max(left, x);
          sum += (src[(y0 + y) * stride + x0 + x] as number) * wx * wy;
          area += wx * wy;
        }
      }
      out[oy * nw + ox] = sum / area;
    }
  }
  return out;
}

function borderMean(img: GreyImage): number {
  let sum = 0;
  let n = 0;
  for (let x = 0; x < img.width; x++) {
    sum += (img.pixels[x] as number) + (img.pixels[(img.height - 1) * img.width + x] as number);
    n += 2;
  }
  for (let y = 0; y < img.height; y++) {
    sum += (img.pixels[y * img.width] as number) + (img.pixels[y * img.width + img.width - 1] as number);
    n += 2;
  }
  return sum / n;
}

/** What a caller can send a model: an MNIST-format 28×28 array (0–1 or 0–255), or an image upload. */
export type DigitInput =
  | { kind: 'array28'; values: ArrayLike<number>; range: 'unit' | 'byte' }
  | { kind: 'image'; bytes: Uint8Array };

/**
 * The serving side of the one preprocessing path: every input becomes the same 784 bytes the
 * training data is stored as, and then goes through imagesToTensor like a training batch.
 * A 28×28 array is taken as already in MNIST format (as training samples are); images get mnistNormalise.
 */
export function digitToBytes(input: DigitInput, limits: DecodeLimits = {}): Uint8Array {
  if (input.kind === 'image') return mnistNormalise(decodeImage(input.bytes, limits));
  if (input.values.length !== PIXELS) throw new ValidationError(`expected ${PIXELS} values (28×28), got ${input.values.length}`);
  const max = input.range === 'unit' ? 1 : 255;
  const out = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    const v = input.values[i] as number;
    if (!Number.isFinite(v)) throw new ValidationError(`value ${i} is ${String(v)}: every pixel must be a finite number`);
    if (v < 0 || v > max) throw new ValidationError(`value ${i} is ${v}: pixels must lie in [0, ${max}]`);
    out[i] = Math.round((v / max) * 255);
  }
  return out;
}
