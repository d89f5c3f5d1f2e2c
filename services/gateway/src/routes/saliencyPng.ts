import { PNG } from 'pngjs';
import { IMAGE_SIDE } from '@mlpipe/ml';

/** A saliency map (one value in [0,1] per pixel) as a 28×28 PNG: hot pixels magenta and opaque, cold ones dark blue and clear. */
export function saliencyPng(map: Float32Array): Buffer {
  const png = new PNG({ width: IMAGE_SIDE, height: IMAGE_SIDE });
  map.forEach((v, i) => png.data.set([Math.round(v * 255), 0, Math.round((1 - v) * 64), Math.round(v * 255)], i * 4));
  return PNG.sync.write(png);
}
