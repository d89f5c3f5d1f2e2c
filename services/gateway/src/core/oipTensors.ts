import { ValidationError } from '@mlpipe/common';

/**
 * Open Inference Protocol tensor datatypes and their raw (binary) form: row-major, little-endian,
 * fixed-size elements. The REST binary extension and gRPC's `raw_input_contents` /
 * `raw_output_contents` both carry tensors this way, so one codec serves both.
 */
export const FIXED_SIZE_DATATYPES = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
} as const;
export type FixedSizeDatatype = keyof typeof FIXED_SIZE_DATATYPES;

export function isFixedSizeDatatype(datatype: string): datatype is FixedSizeDatatype {
  return Object.hasOwn(FIXED_SIZE_DATATYPES, datatype);
}

/** Bytes per element, or undefined for BYTES (length-prefixed) and names the protocol does not have. */
export function elementBytes(datatype: string): number | undefined {
  return isFixedSizeDatatype(datatype) ? FIXED_SIZE_DATATYPES[datatype] : undefined;
}

/** The number of elements a shape holds (1 for a scalar shape `[]`). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

type Reader = (view: DataView, offset: number) => number;
type Writer = (view: DataView, offset: number, value: number) => void;

// Every accessor passes littleEndian=true: the protocol fixes the byte order, not the host.
const READERS: Partial<Record<FixedSizeDatatype, Reader>> = {
  BOOL: (v, o) => v.getUint8(o),
  UINT8: (v, o) => v.getUint8(o),
  UINT16: (v, o) => v.getUint16(o, true),
  UINT32: (v, o) => v.getUint32(o, true),
  UINT64: (v, o) => Number(v.getBigUint64(o, true)),
  INT8: (v, o) => v.getInt8(o),
  INT16: (v, o) => v.getInt16(o, true),
  INT32: (v, o) => v.getInt32(o, true),
  INT64: (v, o) => Number(v.getBigInt64(o, true)),
  FP32: (v, o) => v.getFloat32(o, true),
  FP64: (v, o) => v.getFloat64(o, true),
};
const WRITERS: Partial<Record<FixedSizeDatatype, Writer>> = {
  BOOL: (v, o, x) => v.setUint8(o, x ? 1 : 0),
  UINT8: (v, o, x) => v.setUint8(o, x),
  UINT16: (v, o, x) => v.setUint16(o, x, true),
  UINT32: (v, o, x) => v.setUint32(o, x, true),
  UINT64: (v, o, x) => v.setBigUint64(o, BigInt(Math.trunc(x)), true),
  INT8: (v, o, x) => v.setInt8(o, x),
  INT16: (v, o, x) => v.setInt16(o, x, true),
  INT32: (v, o, x) => v.setInt32(o, x, true),
  INT64: (v, o, x) => v.setBigInt64(o, BigInt(Math.trunc(x)), true),
  FP32: (v, o, x) => v.setFloat32(o, x, true),
  FP64: (v, o, x) => v.setFloat64(o, x, true),
};

/** Raw little-endian bytes → numbers. The byte length must be a whole number of elements. */
export function decodeRawTensor(datatype: string, bytes: Uint8Array, what = 'tensor'): number[] {
  const size = elementBytes(datatype);
  const read = isFixedSizeDatatype(datatype) ? READERS[datatype] : undefined;
  if (size === undefined || !read)
    throw new ValidationError(`${what}: datatype ${datatype} cannot be read as raw binary data`);
  if (bytes.byteLength % size !== 0)
    throw new ValidationError(
      `${what}: ${bytes.byteLength} bytes is not a whole number of ${datatype} elements (${size} bytes each)`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength / size }, (_, i) => read(view, i * size));
}

/** Numbers → raw little-endian bytes of the datatype. */
export function encodeRawTensor(datatype: string, data: readonly number[]): Uint8Array {
  const size = elementBytes(datatype);
  const write = isFixedSizeDatatype(datatype) ? WRITERS[datatype] : undefined;
  if (size === undefined || !write) throw new Error(`datatype ${datatype} has no raw encoding here`);
  const out = new Uint8Array(data.length * size);
  const view = new DataView(out.buffer);
  data.forEach((x, i) => write(view, i * size, x));
  return out;
}
