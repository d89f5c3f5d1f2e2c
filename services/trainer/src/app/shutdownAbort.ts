/**
 * Abort reason when the job is handed back, not cancelled: the replica stops, or its watchdog saw
 * no progress. The job message goes back to the queue and resumes from its last checkpoint.
 */
export class ShutdownAbort extends Error {
  constructor(message = 'the trainer replica is shutting down; the job resumes from its last checkpoint on another attempt') {
    super(message);
  }
}

/** The watchdog's reason: no progress within its bound, so the job is given back and the replica freed. */
export class WatchdogAbort extends ShutdownAbort {
  constructor(quietMs: number) {
    super(`no training progress for ${Math.round(quietMs / 1000)} s; giving the job back so it resumes from its last checkpoint`);
  }
}
