import { PermissionViolationError } from '@nats-io/nats-core';
import { MlpipeError } from '@mlpipe/common';

/** The server's refusal behind an error (nats.js wraps it, e.g. in a RequestError), if that is what it is. */
export function permissionRefusalOf(err: unknown): PermissionViolationError | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    if (e instanceof PermissionViolationError) return e;
    e = e.cause;
  }
  return undefined;
}

/**
 * A publish or request the server refused this user: permanent (waiting cannot grant a right), with
 * code 'forbidden' and a message naming the user and the subject.
 */
export class NatsRefusal extends MlpipeError {
  constructor(user: string | undefined, what: string, cause: PermissionViolationError) {
    super('forbidden', `NATS refused user "${user ?? '(none)'}" ${what}: not among its rights (libs/bus/src/accounts.ts)`, { cause });
  }
}
