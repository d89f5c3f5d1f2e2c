import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Group frames are sealed with the job's group key: an HMAC-SHA256 over the subject and the
 * frame, appended to it. Only holders of the job message (trainers) know the key, so a client
 * that can publish on the group's subjects still cannot forge a step, an abort, a gradient or a
 * join; and binding the subject keeps a gradient frame from being replayed as a control frame.
 */
export const SEAL_BYTES = 32;

/** The key the job message carries: 32 random bytes, base64url (43 characters). */
export function decodeGroupKey(encoded: string): Uint8Array {
  const key = Buffer.from(encoded, 'base64url');
  if (key.byteLength !== 32) throw new Error(`a group key is 32 bytes, this one ${key.byteLength}`);
  return key;
}

function mac(key: Uint8Array, subject: string, frame: Uint8Array): Buffer {
  return createHmac('sha256', key).update(subject).update('\0').update(frame).digest();
}

export function seal(key: Uint8Array, subject: string, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.byteLength + SEAL_BYTES);
  out.set(frame, 0);
  out.set(mac(key, subject, frame), frame.byteLength);
  return out;
}

/** The frame without its seal, or undefined when the seal is missing or wrong. */
export function unseal(key: Uint8Array, subject: string, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.byteLength < SEAL_BYTES) return undefined;
  const frame = sealed.subarray(0, sealed.byteLength - SEAL_BYTES);
  const given = sealed.subarray(sealed.byteLength - SEAL_BYTES);
  return timingSafeEqual(mac(key, subject, frame), given) ? frame : undefined;
}
