import { randomBytes } from 'node:crypto';

/** The `source` of every event the orchestrator publishes. */
export const SOURCE = 'orchestrator';

/** A new id that says what it names and the day it was made, e.g. `job-20261201-1a2b3c4d`. */
export const newId = (kind: 'job' | 'sweep'): string =>
  `${kind}-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
