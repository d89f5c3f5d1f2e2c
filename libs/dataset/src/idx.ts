import { ValidationError } from '@mlpipe/common';

/** An IDX file of unsigned bytes (MNIST's format): dimensions and the data, row-major. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Parses an IDX file of type ubyte; any other type, a bad magic or a wrong length is a ValidationError. */
export function parseIdx(bytes: Uint8Array, name = 'IDX file'): IdxArray {
  if (bytes.length < 4) throw new ValidationError(`${name} is ${bytes.length} bytes: too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0) throw new ValidationError(`${name} is not an IDX file (bad magic number)`);
  const type = view.getUint8(2);
  if (type !== UBYTE) throw new ValidationError(`${name} holds type 0x${type.toString(16)}; only unsigned bytes (0x08) are supported`);
  const rank = view.getUint8(3);
  if (rank < 1 || rank > 4) throw new ValidationError(`${name} has ${rank} dimensions; expected 1 to 4`);
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw new ValidationError(`${name} is truncated inside its header`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - header;
  if (actual !== expected) {
    throw new ValidationError(`${name} should hold ${expected} bytes of data for dimensions ${dims.join('×')} but holds ${actual}`);
  }
  return { dims, data: bytes.subarray(header) };
}

export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`encodeIdx: ${data.length} bytes for dimensions ${dims.join('×')}`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint8(2, UBYTE);
  view.setUint8(3, dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
