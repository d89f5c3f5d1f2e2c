/**
 * Binary framing for the gradient exchange: each NATS message is
 * [u32 little-endian header length][header JSON][payload bytes]. Payloads larger than the
 * server's message limit travel as several parts of one message id and are put back together
 * by the receiver; a part seen twice is ignored.
 */

export interface FrameHeader {
  /** One id per logical message; all its parts share it. */
  msg: string;
  part: number;
  parts: number;
}

export interface Frame<M> {
  meta: M;
  payload: Uint8Array;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Splits a message into NATS-sized frames; an empty payload still makes one frame. */
export function encodeFrames<M extends object>(msg: string, meta: M, payload: Uint8Array, maxPartBytes: number): Uint8Array[] {
  if (maxPartBytes < 1) throw new RangeError('maxPartBytes must be positive');
  const parts = Math.max(1, Math.ceil(payload.byteLength / maxPartBytes));
  const frames: Uint8Array[] = [];
  for (let part = 0; part < parts; part++) {
    const header = textEncoder.encode(JSON.stringify({ ...meta, msg, part, parts }));
    const body = payload.subarray(part * maxPartBytes, Math.min(payload.byteLength, (part + 1) * maxPartBytes));
    const frame = new Uint8Array(4 + header.byteLength + body.byteLength);
    new DataView(frame.buffer).setUint32(0, header.byteLength, true);
    frame.set(header, 4);
    frame.set(body, 4 + header.byteLength);
    frames.push(frame);
  }
  return frames;
}

export function decodeFrame(frame: Uint8Array): { header: FrameHeader & Record<string, unknown>; body: Uint8Array } {
  if (frame.byteLength < 4) throw new Error('frame shorter than its length prefix');
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  if (4 + length > frame.byteLength) throw new Error('frame header runs past the frame');
  const header = JSON.parse(textDecoder.decode(frame.subarray(4, 4 + length))) as FrameHeader & Record<string, unknown>;
  if (typeof header.msg !== 'string' || !Number.isInteger(header.part) || !Number.isInteger(header.parts) || header.part < 0 || header.part >= header.parts) {
    throw new Error('frame header lacks a valid msg/part/parts');
  }
  return { header, body: frame.subarray(4 + length) };
}

/** Collects parts until a message is whole; keeps at most `maxPending` unfinished messages. */
export class Reassembler {
  private readonly pending = new Map<string, { parts: (Uint8Array | undefined)[]; got: number }>();

  constructor(private readonly maxPending = 64) {}

  add(frame: Uint8Array): Frame<Record<string, unknown>> | undefined {
    const { header, body } = decodeFrame(frame);
    const { msg, part, parts, ...meta } = header;
    if (parts === 1) return { meta, payload: body };
    let entry = this.pending.get(msg);
    if (!entry) {
      if (this.pending.size >= this.maxPending) this.pending.delete(this.pending.keys().next().value as string);
      entry = { parts: new Array<Uint8Array | undefined>(parts), got: 0 };
      this.pending.set(msg, entry);
    }
    if (entry.parts.length !== parts || entry.parts[part]) return undefined;
    entry.parts[part] = body.slice();
    if (++entry.got < parts) return undefined;
    this.pending.delete(msg);
    const size = entry.parts.reduce((n, p) => n + (p?.byteLength ?? 0), 0);
    const payload = new Uint8Array(size);
    let at = 0;
    for (const p of entry.parts as Uint8Array[]) {
      payload.set(p, at);
      at += p.byteLength;
    }
    return { meta, payload };
  }
}
