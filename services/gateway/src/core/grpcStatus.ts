import { status } from '@grpc/grpc-js';
import { MlpipeError, TransientError, ValidationError } from '@mlpipe/common';

/**
 * The one mapping from the error hierarchy to gRPC status codes, the counterpart of the HTTP
 * mapping (@mlpipe/runtime httpErrors.ts), so REST and gRPC refuse the same request alike:
 * - ValidationError → INVALID_ARGUMENT (HTTP 400), NotFoundError → NOT_FOUND (404),
 * - TransientError (not ready, a full batch queue, no replica) → UNAVAILABLE (503): a client retries,
 *   and with a full queue the trailers carry `retry-after` seconds as HTTP's header does,
 * - `unauthorized` → UNAUTHENTICATED (401), `forbidden` → PERMISSION_DENIED (403),
 * - quotas and rate limits → RESOURCE_EXHAUSTED (429), `conflict` → FAILED_PRECONDITION (409),
 * - anything else → INTERNAL with "internal error": details stay in the log, as for HTTP 500.
 */
const CODE_BY_ERROR: Readonly<Record<string, status>> = {
  unauthorized: status.UNAUTHENTICATED,
  forbidden: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
  conflict: status.FAILED_PRECONDITION,
  rate_limited: status.RESOURCE_EXHAUSTED,
  quota_exceeded: status.RESOURCE_EXHAUSTED,
};

export interface GrpcErrorStatus {
  code: status;
  details: string;
  /** Seconds until a retry may help, for the `retry-after` trailer (a full queue knows). */
  retryAfterSeconds?: number;
}

/** Status code and details for any thrown value; pure, so the mapping is tested without a server. */
export function grpcErrorStatus(err: unknown): GrpcErrorStatus {
  if (!(err instanceof MlpipeError)) return { code: status.INTERNAL, details: 'internal error' };
  if (err instanceof ValidationError) return { code: status.INVALID_ARGUMENT, details: err.message };
  if (err instanceof TransientError)
    return { code: status.UNAVAILABLE, details: err.message, ...(err.retryAfterSeconds !== undefined ? { retryAfterSeconds: Math.max(1, Math.ceil(err.retryAfterSeconds)) } : {}) };
  const code = CODE_BY_ERROR[err.code];
  return code === undefined ? { code: status.INTERNAL, details: 'internal error' } : { code, details: err.message };
}
