import { MlpipeError } from '@mlpipe/common';

/** No usable credentials (none where the route needs some, or ones that did not resolve): HTTP 401. */
export class UnauthorizedError extends MlpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unauthorized', message, options);
  }
}

/** Authenticated, but the role is too low for the route: HTTP 403. */
export class ForbiddenError extends MlpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('forbidden', message, options);
  }
}
