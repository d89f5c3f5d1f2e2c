import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { decodeImage, digitToBytes, imagesToTensor, mnistNormalise, PIXELS, type GreyImage } from '../src';
import { loadMnist } from './mnist';
import { centreOfMass } from './images';

/** An MNIST digit drawn bigger, off-centre, as dark ink on white paper: what a person uploads. */
function redraw(sample: Uint8Array, scale: number, canvas: [number, number], at: [number, number]): GreyImage {
  const [w, h] = canvas;
  const pixels = new Uint8Array(w * h).fill(255);
  for (let y = 0; y < 28 * scale; y++)
    for (let x = 0; x < 28 * scale; x++) pixels[(at[1] + y) * w + at[0] + x] = 255 - (sample[Math.floor(y / scale) * 28 + Math.floor(x / scale)] as number);
  return { width: w, height: h, pixels };
}


describe('one preprocessing path for training and serving', () => {
  it('gives a training sample sent as a 28×28 array exactly the tensor training used', () => {
    const sample = loadMnist('t10k', 3);
    for (let i = 0; i < 3; i++) {
      const bytes = sample.images.subarray(i * PIXELS, (i + 1) * PIXELS);
      const trainingTensor = imagesToTensor(bytes, 1);
      const unit = digitToBytes({ kind: 'array28', values: Array.from(bytes, (v) => v / 255), range: 'unit' });
      const byte = digitToBytes({ kind: 'array28', values: Array.from(bytes), range: 'byte' });
      for (const served of [unit, byte]) {
        const servingTensor = imagesToTensor(served, 1);
        expect(Array.from(servingTensor.dataSync())).toEqual(Array.from(trainingTensor.dataSync()));
        servingTensor.dispose();
      }
      trainingTensor.dispose();
    }
    expect(tf.memory().numTensors).toBe(0);
  });

  it('turns a big, off-centre, dark-on-light drawing back into an MNIST-like digit', () => {
    const { images } = loadMnist('t10k', 20);
    let totalDiff = 0;
    for (let i = 0; i < 20; i++) {
      const original = images.subarray(i * PIXELS, (i + 1) * PIXELS);
      const out = mnistNormalise(redraw(original, 5, [300, 220], [20 + i * 3, 40]));
      const [cx, cy] = centreOfMass(out);
      expect(Math.abs(cx! - 13.5)).toBeLessThanOrEqual(1);
      expect(Math.abs(cy! - 13.5)).toBeLessThanOrEqual(1);
      totalDiff += out.reduce((s, v, p) => s + Math.abs(v - (original[p] as number)), 0) / PIXELS;
    }
    // MNIST's own digits are already 20×20-boxed and mass-centred: redoing the recipe nearly reproduces them.
    expect(totalDiff / 20).toBeLessThan(25);
  });

  it('treats light-on-dark and dark-on-light drawings alike', () => {
    const { images } = loadMnist('t10k', 1);
    const paper = redraw(images, 4, [150, 150], [10, 30]);
    const board = { ...paper, pixels: paper.pixels.map((v) => 255 - v) };
    expect(Array.from(mnistNormalise(board))).toEqual(Array.from(mnistNormalise(paper)));
  });

  it('decodes PNG and JPEG uploads, and refuses what it cannot use with a reason', () => {
    const png = new PNG({ width: 40, height: 30 });
    png.data.fill(255);
    for (let y = 10; y < 20; y++) for (let x = 15; x < 18; x++) png.data.fill(0, (y * 40 + x) * 4, (y * 40 + x) * 4 + 3);
    const fromPng = digitToBytes({ kind: 'image', bytes: new Uint8Array(PNG.sync.write(png)) });
    expect(fromPng.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const jpg = jpeg.encode({ width: 40, height: 30, data: png.data }, 95);
    expect(decodeImage(new Uint8Array(jpg.data))).toMatchObject({ width: 40, height: 30 });

    expect(() => digitToBytes({ kind: 'image', bytes: new Uint8Array([1, 2, 3, 4]) })).toThrow(/neither a PNG nor a JPEG/);
    expect(() => digitToBytes({ kind: 'image', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0]) })).toThrow(/PNG image cannot be decoded/);
    const blank = new PNG({ width: 10, height: 10 });
    blank.data.fill(255);
    expect(() => digitToBytes({ kind: 'image', bytes: new Uint8Array(PNG.sync.write(blank)) })).toThrow(/no ink/);
    expect(() => digitToBytes({ kind: 'array28', values: [1, 2], range: 'byte' })).toThrow(/expected 784 values/);
    expect(() => digitToBytes({ kind: 'array28', values: Array(784).fill(Number.NaN), range: 'unit' })).toThrow(/finite/);
    expect(() => digitToBytes({ kind: 'array28', values: Array(784).fill(2), range: 'unit' })).toThrow(/\[0, 1\]/);
  });

  it('refuses an image past the pixel limit from its header, before decoding it', () => {
    const png = new PNG({ width: 40, height: 30 });
    png.data.fill(255);
    const bytes = new Uint8Array(PNG.sync.write(png));
    expect(() => decodeImage(bytes, { maxPixels: 1199 })).toThrow(/40×30 \(1200 pixels\); at most 1199 pixels/);
    expect(decodeImage(bytes, { maxPixels: 1200 })).toMatchObject({ width: 40, height: 30 });
    const jpg = new Uint8Array(jpeg.encode({ width: 40, height: 30, data: png.data }, 90).data);
    expect(() => decodeImage(jpg, { maxPixels: 1000 })).toThrow(/at most 1000 pixels/);
    // jpeg-js's own memory bound holds even when the pixel limit lets an image through.
    expect(() => decodeImage(jpg, { maxPixels: 1e6, maxDecodeMB: 0.001 })).toThrow(/JPEG image cannot be decoded: maxMemoryUsageInMB/);
  });
});
