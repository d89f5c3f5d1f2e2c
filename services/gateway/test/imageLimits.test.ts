import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { ValidationError } from '@mlpipe/common';
import { pngDeclaring } from '@mlpipe/testing';
import { checkImageUpload } from '../src/core/imageLimits';
import { readDigitRequest } from '../src/core/digitRequest';

const LIMITS = { maxBytes: 64 * 1024, maxPixels: 1_000_000 };

const refusal = (f: () => unknown): ValidationError => {
  try {
    f();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
};

describe('image limits, from the header before any decode', () => {
  it('lets an image within the limits through with its size', () => {
    const png = new Uint8Array(PNG.sync.write(new PNG({ width: 1000, height: 1000 })));
    expect(checkImageUpload(png, LIMITS)).toEqual({ width: 1000, height: 1000 });
  });

  it('refuses more pixels than the limit, naming the size and the setting', () => {
    const err = refusal(() => checkImageUpload(new Uint8Array(pngDeclaring(20000, 20000)), LIMITS));
    expect(err.code).toBe('image_too_large');
    expect(err.message).toMatch(/PNG declares 20000×20000 \(400000000 pixels\); at most 1000000 \(GATEWAY_MAX_IMAGE_PIXELS\)/);
    expect(refusal(() => checkImageUpload(new Uint8Array(pngDeclaring(1001, 1000)), LIMITS)).code).toBe('image_too_large');
  });

  it('refuses more bytes than the limit before reading the header', () => {
    const big = new Uint8Array(LIMITS.maxBytes + 1);
    big.set(pngDeclaring(10, 10));
    expect(refusal(() => checkImageUpload(big, LIMITS)).message).toMatch(/65537 bytes; at most 65536 \(GATEWAY_MAX_IMAGE_BYTES\)/);
  });

  it('refuses a truncated or garbage header with the reason', () => {
    expect(refusal(() => checkImageUpload(new Uint8Array(pngDeclaring(10, 10).subarray(0, 20)), LIMITS)).message).toMatch(/ends before its IHDR/);
    expect(refusal(() => checkImageUpload(new Uint8Array([0xff, 0xd8, 0xff, 0xda]), LIMITS)).message).toMatch(/no frame header/);
    expect(refusal(() => checkImageUpload(new Uint8Array([1, 2, 3]), LIMITS)).message).toMatch(/neither a PNG nor a JPEG/);
  });

  it('applies to raw uploads and to base64 images in JSON alike, and not to 28×28 arrays', () => {
    const bomb = pngDeclaring(20000, 20000);
    expect(refusal(() => readDigitRequest(bomb, { model: 'mnist' }, LIMITS)).code).toBe('image_too_large');
    expect(refusal(() => readDigitRequest({ image: `data:image/png;base64,${bomb.toString('base64')}` }, {}, LIMITS)).code).toBe('image_too_large');
    expect(readDigitRequest({ pixels: Array(784).fill(0) }, {}, LIMITS).input.kind).toBe('array28');
  });
});
