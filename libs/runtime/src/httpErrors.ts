import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { MlpipeError, TransientError, ValidationError } from '@mlpipe/common';

/**
 * The one mapping from the error hierarchy to HTTP, for every HTTP edge.
 *
 * - ValidationError (`invalid`) → 400. Not 422: the Open Inference Protocol that the gateway speaks
 *   answers every bad request with 400, fastify's own schema and body errors are 400, and no client of
 *   ours does anything different for "well-formed but wrong" than for "malformed". One code for
 *   "your request is wrong, fix it" keeps every edge and every client alike.
 * - `unauthorized` → 401 and `forbidden` → 403 (@mlpipe/auth's errors), `rate_limited` → 429,
 * - NotFoundError (`not_found`) → 404, ConflictError (`conflict`) → 409, QuotaExceededError (`quota_exceeded`) → 429,
 *   TransientError (`transient`, or a more precise code such as `overloaded`) → 503 (retry later; the
 *   message says what is missing), with a `Retry-After` header when the error knows when.
 * - Anything else is a 500 whose details stay in the log: the body says only "internal error".
 *
 * Every error body has one shape, `{ error: message, code }`: `error` is a string, as the Open
 * Inference Protocol's error response requires, and `code` is the stable machine-readable part.
 */
export interface ErrorBody {
  error: string;
  code: string;
}

const STATUS_BY_CODE: Readonly<Record<string, number>> = { unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, rate_limited: 429, quota_exceeded: 429, transient: 503 };
const INTERNAL = { status: 500, body: { error: 'internal error', code: 'internal' } } as const;
const CODE_BY_STATUS: Readonly<Record<number, string>> = { 400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 429: 'rate_limited', 503: 'transient' };

/** Status and body for any thrown value; pure, so the mapping is tested without a server. */
export function httpErrorReply(err: unknown): { status: number; body: ErrorBody } {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const message = err.validation.map((v) => `${v.instancePath || 'request'}: ${v.message}`).join('; ');
    return { status: 400, body: { error: message, code: 'invalid' } };
  }
  if (err instanceof MlpipeError) {
    const status = err instanceof ValidationError ? 400 : err instanceof TransientError ? 503 : (STATUS_BY_CODE[err.code] ?? 500);
    return status === 500 ? INTERNAL : { status, body: { error: err.message, code: err.code } };
  }
  // fastify's own client errors (bad JSON, body too large, unsupported media type) carry a 4xx status.
  const status = (err as Partial<FastifyError> | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { error: (err as Error).message, code: CODE_BY_STATUS[status] ?? 'invalid' } };
  }
  return INTERNAL;
}

function handle(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = httpErrorReply(err);
  if (err instanceof TransientError && err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
  if (status === 503) req.log.warn({ err }, 'dependency unavailable');
  else if (status >= 500) req.log.error({ err }, 'request failed');
  return reply.code(status).send(body);
}

/**
 * The error mapping as a fastify plugin: registered once on an app, it sets the error handler and the
 * not-found handler for the whole app (fastify-plugin lifts it out of its own encapsulation context).
 */
export const httpErrorHandler = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler(handle);
    app.setNotFoundHandler((req, reply) =>
      reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0] ?? ''}`, code: 'not_found' } satisfies ErrorBody),
    );
  },
  { name: 'mlpipe-http-errors' },
);
