/** Abort reason when the replica itself stops: the job is handed back (not cancelled) and resumes elsewhere. */
export class ShutdownAbort extends Error {
  constructor() {
    super('the trainer replica is shutting down; the job resumes from its last checkpoint on another attempt');
  }
}
