import { ValidationError, readImageHeader } from '@mlpipe/common';

/** What one uploaded image may be: its bytes, and the pixels its header declares. */
export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
}

/**
 * Refuses an upload past the limits, with the reason, before anything decodes it: the size is read
 * from the header (PNG IHDR, JPEG SOF), so a small file declaring a huge image costs nothing.
 */
export function checkImageUpload(bytes: Uint8Array, limits: ImageLimits): { width: number; height: number } {
  if (bytes.length > limits.maxBytes) {
    throw new ValidationError(`the image is ${bytes.length} bytes; at most ${limits.maxBytes} (GATEWAY_MAX_IMAGE_BYTES)`, { code: 'image_too_large' });
  }
  const header = readImageHeader(bytes);
  if (!header.ok) throw new ValidationError(header.reason);
  const pixels = header.width * header.height;
  if (pixels > limits.maxPixels) {
    throw new ValidationError(`the ${header.format.toUpperCase()} declares ${header.width}×${header.height} (${pixels} pixels); at most ${limits.maxPixels} (GATEWAY_MAX_IMAGE_PIXELS)`, { code: 'image_too_large' });
  }
  return { width: header.width, height: header.height };
}
