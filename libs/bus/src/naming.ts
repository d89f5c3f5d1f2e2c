import type { StreamKey } from '@mlpipe/contracts';

/**
 * Every subject and stream carries a namespace, so several deployments (or tests) share one
 * NATS server without their streams' subjects overlapping.
 */
export function validateNamespace(ns: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(ns)) {
    throw new Error(`bus namespace "${ns}" must be 1-32 lower-case letters, digits, "_" or "-"`);
  }
  return ns;
}

export function subjectOf(ns: string, type: string): string {
  return `${ns}.${type}`;
}

export function typeOfSubject(ns: string, subject: string): string {
  return subject.startsWith(`${ns}.`) ? subject.slice(ns.length + 1) : subject;
}

export function streamNameOf(ns: string, key: StreamKey): string {
  return `${ns.toUpperCase().replace(/-/g, '_')}_${key}`;
}

export function deadLetterSubject(ns: string, type: string): string {
  return `${ns}.dlq.${type}`;
}
