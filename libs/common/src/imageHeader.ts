/**
 * The size an image declares, read from its header alone (no decode, no allocation that grows with
 * the image): a small file may declare 20000×20000, and a decoder would allocate all of it before
 * anyone looks. Callers check the pixels against their limit first, then decode.
 *
 * PNG: the 8-byte signature, then the IHDR chunk, which the format requires to come first.
 * JPEG: SOI, then the marker segments are walked (each names its length) to the first frame header
 * (SOF0..SOF15 but DHT, JPG and DAC, which share the range), whose fields are the height and width.
 */
export type ImageFormat = 'png' | 'jpeg';
export type ImageHeader = { ok: true; format: ImageFormat; width: number; height: number } | { ok: false; reason: string };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
/** PNG caps each dimension at 2^31 - 1. */
const PNG_MAX_SIDE = 0x7fffffff;

export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length >= 4 && PNG_SIGNATURE.slice(0, 4).every((b, i) => bytes[i] === b)) return readPngHeader(bytes);
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return readJpegHeader(bytes);
  return { ok: false, reason: 'the upload is neither a PNG nor a JPEG image' };
}

const u16 = (b: Uint8Array, at: number) => ((b[at] as number) << 8) | (b[at + 1] as number);
const u32 = (b: Uint8Array, at: number) => ((b[at] as number) * 0x1000000 + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))) >>> 0;

function readPngHeader(b: Uint8Array): ImageHeader {
  // signature (8) + chunk length (4) + "IHDR" (4) + width (4) + height (4)
  if (b.length < 24) return { ok: false, reason: 'the PNG ends before its IHDR header' };
  if (!PNG_SIGNATURE.every((v, i) => b[i] === v)) return { ok: false, reason: 'the PNG signature is damaged' };
  const type = String.fromCharCode(b[12] as number, b[13] as number, b[14] as number, b[15] as number);
  if (type !== 'IHDR') return { ok: false, reason: `the PNG's first chunk is "${type.replace(/[^\x20-\x7e]/g, '?')}", not IHDR` };
  if (u32(b, 8) !== 13) return { ok: false, reason: 'the PNG IHDR chunk does not have the length 13' };
  const width = u32(b, 16);
  const height = u32(b, 20);
  if (width < 1 || height < 1 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE) return { ok: false, reason: `the PNG declares an impossible size ${width}×${height}` };
  return { ok: true, format: 'png', width, height };
}

/** Markers without a length field: TEM, RST0..7 (SOI would be a second start). */
const isStandalone = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd7);
/** Frame headers: 0xC0..0xCF except DHT (C4), JPG (C8) and DAC (CC). */
const isFrameHeader = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function readJpegHeader(b: Uint8Array): ImageHeader {
  let at = 2;
  while (at < b.length) {
    if (b[at] !== 0xff) return { ok: false, reason: `the JPEG has no marker at byte ${at}` };
    // Any number of 0xFF fill bytes may precede a marker.
    while (at < b.length && b[at] === 0xff) at++;
    if (at >= b.length) break;
    const marker = b[at] as number;
    at++;
    if (isStandalone(marker)) continue;
    if (marker === 0xd8 || marker === 0x00) return { ok: false, reason: `the JPEG has a stray marker 0xFF${marker.toString(16).padStart(2, '0')} at byte ${at - 1}` };
    if (marker === 0xd9 || marker === 0xda) return { ok: false, reason: 'the JPEG has no frame header (SOF) before its image data' };
    if (at + 2 > b.length) break;
    const length = u16(b, at);
    if (length < 2) return { ok: false, reason: `the JPEG segment at byte ${at} has an impossible length ${length}` };
    if (isFrameHeader(marker)) {
      // length (2), precision (1), height (2), width (2), components (1)
      if (length < 8 || at + 7 > b.length) break;
      const height = u16(b, at + 3);
      const width = u16(b, at + 5);
      // A height of 0 is announced later (DNL): the size cannot be checked before decoding, so refuse it.
      if (width < 1 || height < 1) return { ok: false, reason: `the JPEG declares a size ${width}×${height}; a size defined later (DNL) is not accepted` };
      return { ok: true, format: 'jpeg', width, height };
    }
    at += length;
  }
  return { ok: false, reason: 'the JPEG ends before its frame header (SOF)' };
}
