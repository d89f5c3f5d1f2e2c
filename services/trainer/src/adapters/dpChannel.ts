import type { Subscription } from '@nats-io/nats-core';
import type { Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import { decodeFrame, encodeFrames, Reassembler, type Frame } from '../core/frames';
import { seal, unseal, SEAL_BYTES } from '../core/frameSeal';

/** Core NATS subjects of one job's training group (not JetStream: step traffic is live, not replayed). */
export interface DpSubjects {
  join: string;
  ctl: string;
  grad: string;
  heartbeat: string;
  state: string;
}

/** Job ids may hold ".", a NATS token separator, so the subject carries them base64url-encoded. */
export function dpSubjects(namespace: string, jobId: string): DpSubjects {
  const base = `${namespace}.dp.${Buffer.from(jobId).toString('base64url')}`;
  return { join: `${base}.join`, ctl: `${base}.ctl`, grad: `${base}.grad`, heartbeat: `${base}.hb`, state: `${base}.state` };
}

/** Room left for a frame's header (and its seal) under the server's message limit. */
const HEADER_ROOM = 4096;

/** Why a frame was dropped unread: counted, never fatal. */
export type FrameDrop = 'unsealed' | 'malformed';

export interface DpChannelOptions {
  maxPartBytes?: number | undefined;
  /** The job's group key: every frame sent is sealed with it, and a frame without a valid seal is dropped. */
  key?: Uint8Array | undefined;
  onDrop?: ((why: FrameDrop) => void) | undefined;
}

/**
 * Sends and receives framed messages on one job's subjects, splitting payloads to fit the
 * server's max_payload (or a smaller configured part size) and counting bytes on the wire.
 * Joins and heartbeats travel as frames too, so all of the group's traffic carries the seal.
 */
export class DpChannel {
  readonly subjects: DpSubjects;
  readonly maxPartBytes: number;
  bytesSent = 0;
  private readonly subs: Subscription[] = [];
  private sequence = 0;

  constructor(
    private readonly bus: Bus,
    jobId: string,
    private readonly owner: string,
    private readonly logger: Logger,
    private readonly opts: DpChannelOptions = {},
  ) {
    this.subjects = dpSubjects(bus.namespace, jobId);
    const serverLimit = (bus.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM - SEAL_BYTES;
    this.maxPartBytes = Math.max(1, Math.min(opts.maxPartBytes ?? serverLimit, serverLimit));
  }

  send<M extends object>(subject: string, meta: M, payload: Uint8Array = new Uint8Array(0)): void {
    const id = `${this.owner}:${++this.sequence}`;
    for (const frame of encodeFrames(id, meta, payload, this.maxPartBytes)) {
      const sealed = this.seal(subject, frame);
      this.bytesSent += sealed.byteLength;
      this.bus.nc.publish(subject, sealed);
    }
  }

  /** Whole messages on `subject`; a malformed or unsealed frame is logged, counted and skipped, never fatal. */
  listen(subject: string, onMessage: (frame: Frame<Record<string, unknown>>) => void): void {
    const assembler = new Reassembler();
    const sub = this.bus.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const frame = this.open(subject, msg.data);
        if (!frame) return;
        try {
          const whole = assembler.add(frame);
          if (whole) onMessage(whole);
        } catch (error) {
          this.dropped('malformed', subject, String(error));
        }
      },
    });
    this.subs.push(sub);
  }

  /** A small JSON message as one sealed frame (joins, their replies, heartbeats). */
  encodeJson(subject: string, value: object): Uint8Array {
    const [frame] = encodeFrames(`${this.owner}:${++this.sequence}`, value, new Uint8Array(0), this.maxPartBytes);
    return this.seal(subject, frame as Uint8Array);
  }

  /** The JSON of a message made by encodeJson, or undefined (counted) when it is not one. */
  decodeJson(subject: string, data: Uint8Array): Record<string, unknown> | undefined {
    const frame = this.open(subject, data);
    if (!frame) return undefined;
    try {
      const { header } = decodeFrame(frame);
      const { msg: _msg, part: _part, parts: _parts, ...value } = header;
      return value;
    } catch (error) {
      this.dropped('malformed', subject, String(error));
      return undefined;
    }
  }

  publishJson(subject: string, value: object): void {
    this.bus.nc.publish(subject, this.encodeJson(subject, value));
  }

  private seal(subject: string, frame: Uint8Array): Uint8Array {
    return this.opts.key ? seal(this.opts.key, subject, frame) : frame;
  }

  private open(subject: string, data: Uint8Array): Uint8Array | undefined {
    if (!this.opts.key) return data;
    const frame = unseal(this.opts.key, subject, data);
    if (!frame) this.dropped('unsealed', subject, 'no valid seal for this job');
    return frame;
  }

  private dropped(why: FrameDrop, subject: string, detail: string): void {
    this.opts.onDrop?.(why);
    this.logger.warn({ subject, why, detail }, 'dropped a training-group frame');
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }
}
