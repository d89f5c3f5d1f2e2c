import { crc32, deflateSync } from 'node:zlib';

/**
 * Images that declare more than they hold, for the input-limit tests (issue 13): decoders that
 * trust the header allocate what it declares before they find the data short.
 */
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data and the CRC over type and data. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * A PNG declaring width × height RGBA (IHDR and CRCs right). Without `rows` it ends after IHDR;
 * with them it is a whole file whose IDAT inflates to that many rows of zeros only.
 */
export function pngDeclaring(width: number, height: number, rows?: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const head = [PNG_SIGNATURE, pngChunk('IHDR', ihdr)];
  if (rows === undefined) return Buffer.concat(head);
  const idat = deflateSync(Buffer.alloc(rows * (1 + width * 4)), { level: 9 });
  return Buffer.concat([...head, pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A baseline JPEG's markers declaring width × height with three components, then a scan of filler. */
export function jpegDeclaring(width: number, height: number): Buffer {
  const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
  const sof0 = [0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00];
  const sos = [0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x3f, 0x00];
  return Buffer.concat([Buffer.from([0xff, 0xd8, ...app0, ...sof0, ...sos]), Buffer.alloc(40_000, 0x55), Buffer.from([0xff, 0xd9])]);
}
