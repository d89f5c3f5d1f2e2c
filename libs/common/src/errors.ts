/**
 * One error hierarchy for every service. The class decides what happens next:
 * - ValidationError: the input is wrong and retrying cannot help (HTTP 4xx, dead-letter a message).
 * - NotFoundError: the thing asked for does not exist (HTTP 404).
 * - ConflictError: the request clashes with current state (HTTP 409).
 * - QuotaExceededError: the caller has used up a quota (concurrent jobs); it may ask again once
 *   some of its work has ended (HTTP 429).
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

export class QuotaExceededError extends MlpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('quota_exceeded', message, options);
  }
}

export class TransientError extends MlpipeError {
  /** When the caller may try again (HTTP Retry-After), if the thrower knows: a full queue does, a lost dependency does not. */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, options?: { cause?: unknown; code?: string; retryAfterSeconds?: number }) {
    super(options?.code ?? 'transient', message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
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

/** Node system error codes of a network that is down or a peer that went away. */
const TRANSIENT_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);
/** Object-store (S3, MinIO) error codes that mean "try again later". */
const TRANSIENT_STORE_CODES = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'Throttling', 'ThrottlingException']);
/** HTTP statuses of an overloaded or restarting server (a client error that kept the response's status). */
const TRANSIENT_HTTP_STATUSES = new Set([429, 500, 502, 503, 504]);
/** NATS client errors (by name, so no client is imported here): no server, no answer, connection going or gone. */
const TRANSIENT_NATS_NAMES = new Set(['TimeoutError', 'ConnectionError', 'NoResponders', 'ClosedConnectionError', 'DrainingConnectionError', 'JetStreamNotEnabled']);
/** pg's own messages for a pool that cannot get a connection or a connection that died under a query. */
const TRANSIENT_PG_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)/i;

/**
 * PostgreSQL SQLSTATEs worth retrying: class 08 (connection exception), 53 (insufficient resources:
 * disk full, out of memory, too many connections), 57P01-03 (admin or crash shutdown, cannot connect
 * now) and 40001/40P01 (serialization failure, deadlock: the same transaction succeeds when rerun).
 */
function isTransientSqlState(code: string): boolean {
  return /^(08|53)[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '40001' || code === '40P01';
}

function isTransientOne(err: object): boolean {
  if (err instanceof TransientError) return true;
  const { code, name, message, status, statusCode } = err as { code?: unknown; name?: unknown; message?: unknown; status?: unknown; statusCode?: unknown };
  if (typeof code === 'string') {
    if (TRANSIENT_SYSTEM_CODES.has(code) || TRANSIENT_STORE_CODES.has(code)) return true;
    if (code.length === 5 && isTransientSqlState(code)) return true;
  }
  if (typeof name === 'string' && TRANSIENT_NATS_NAMES.has(name)) return true;
  // A JetStream API error 503 is "JetStream system temporarily unavailable" (a restart, a leader election).
  if (name === 'JetStreamApiError' && status === 503) return true;
  if (typeof statusCode === 'number' && TRANSIENT_HTTP_STATUSES.has(statusCode)) return true;
  return typeof message === 'string' && TRANSIENT_PG_MESSAGES.test(message);
}

/**
 * Transient failures: a dependency is down or overloaded and the same work will succeed later, so a
 * message waits (nak with backoff) instead of being dead-lettered. Recognises TransientError, Node
 * network errors, PostgreSQL connection/resource SQLSTATEs and pg pool messages, S3/MinIO throttling
 * and 5xx codes, NATS timeouts and lost connections, looking through `cause` chains and
 * AggregateErrors (Node's connect error when every address refused). The permanent classes
 * (ValidationError, NotFoundError, ConflictError, ConfigError) are never transient, whatever their cause.
 */
export function isTransient(err: unknown): boolean {
  const seen = new Set<object>();
  const visit = (e: unknown, depth: number): boolean => {
    if (typeof e !== 'object' || e === null || seen.has(e) || depth > 8) return false;
    seen.add(e);
    if (depth === 0 && (e instanceof ValidationError || e instanceof NotFoundError || e instanceof ConflictError || e instanceof ConfigError)) return false;
    if (isTransientOne(e)) return true;
    const nested = e instanceof AggregateError ? e.errors : [];
    return [(e as { cause?: unknown }).cause, ...nested].some((n) => visit(n, depth + 1));
  };
  return visit(err, 0);
}
