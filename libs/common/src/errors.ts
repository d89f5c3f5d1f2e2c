/**
 * One error hierarchy for every service. The class decides what happens next:
 * - ValidationError: the input is wrong and retrying cannot help (HTTP 4xx, dead-letter a message).
 * - NotFoundError: the thing asked for does not exist (HTTP 404).
 * - ConflictError: the request clashes with current state (HTTP 409).
 * - TransientError: a dependency hiccuped; retry later (HTTP 503, nak a message with backoff).
 * - ConfigError: start-up configuration is wrong; the process should exit with the message.
 * Foreign errors are wrapped at the edge with `cause`, so logs keep the original.
 */
export class MlpipeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class ValidationError extends MlpipeError {
  readonly issues: readonly string[];
  constructor(message: string, options?: { cause?: unknown; issues?: readonly string[]; code?: string }) {
    super(options?.code ?? 'invalid', message, options);
    this.issues = options?.issues ?? [];
  }
}

export class NotFoundError extends MlpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('not_found', message, options);
  }
}

export class ConflictError extends MlpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('conflict', message, options);
  }
}

export class TransientError extends MlpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('transient', message, options);
  }
}

export class ConfigError extends MlpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config', message, options);
  }
}

/** A short, single-line description of any thrown value, for logs, events and CLIs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
