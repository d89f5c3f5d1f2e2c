import type { Subscription } from '@nats-io/nats-core';
import type { Bus } from '@mlpipe/bus';
import type { Logger } from '@mlpipe/common';
import { encodeFrames, Reassembler, type Frame } from '../core/frames';

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

/** Room left for a frame's header under the server's message limit. */
const HEADER_ROOM = 4096;

/**
 * Sends and receives framed messages on one job's subjects, splitting payloads to fit the
 * server's max_payload (or a smaller configured part size) and counting bytes on the wire.
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
    maxPartBytes?: number,
  ) {
    this.subjects = dpSubjects(bus.namespace, jobId);
    const serverLimit = (bus.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM;
    this.maxPartBytes = Math.max(1, Math.min(maxPartBytes ?? serverLimit, serverLimit));
  }

  send<M extends object>(subject: string, meta: M, payload: Uint8Array = new Uint8Array(0)): void {
    const id = `${this.owner}:${++this.sequence}`;
    for (const frame of encodeFrames(id, meta, payload, this.maxPartBytes)) {
      this.bytesSent += frame.byteLength;
      this.bus.nc.publish(subject, frame);
    }
  }

  /** Whole messages on `subject`; a malformed frame is logged and skipped, never fatal. */
  listen(subject: string, onMessage: (frame: Frame<Record<string, unknown>>) => void): void {
    const assembler = new Reassembler();
    const sub = this.bus.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const whole = assembler.add(msg.data);
          if (whole) onMessage(whole);
        } catch (error) {
          this.logger.warn({ subject, err: String(error) }, 'ignoring a malformed training-group frame');
        }
      },
    });
    this.subs.push(sub);
  }

  publishJson(subject: string, value: object): void {
    this.bus.nc.publish(subject, JSON.stringify(value));
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }
}
