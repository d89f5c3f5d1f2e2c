import { pino } from 'pino';
import type { Logger } from '@mlpipe/common';

/** The one structured logger of a process; service (and replica/job via child()) on every line. */
export function createLogger(service: string, level = 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service, ...bindings } });
}
