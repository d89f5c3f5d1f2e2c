import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerOf } from './core/tokens';
import { decideAccess, type AnonymousRole, type Principal, type Role } from './core/roles';
import { ForbiddenError, UnauthorizedError } from './errors';
import type { CredentialResolver } from './resolver';

/** Where a request's credential is: the bearer header by default; the UI adds its session cookie. */
export type CredentialSource = (req: FastifyRequest) => string | undefined | { malformed: string };

export interface AuthGuard {
  /**
   * A route's `onRequest` hook: the route answers 401/403 (in the routes' error shape) unless the
   * caller has `role`. It runs before body parsing and validation, so a refused caller learns nothing
   * about the route's input rules.
   */
  requireRole(role: Role): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** The principal a guarded route's hook admitted (the audit actor). Throws on a route without a guard. */
  principalOf(req: FastifyRequest): Principal;
  /** The principal of a request, if its credentials resolve (no role required; undefined when none or bad). */
  identify(req: FastifyRequest): Promise<Principal | undefined>;
}

export const bearerCredential: CredentialSource = (req) => bearerOf(req.headers.authorization);

export function createAuthGuard(opts: { resolve: CredentialResolver; anonymousRole: AnonymousRole; credentialOf?: CredentialSource }): AuthGuard {
  const admitted = new WeakMap<FastifyRequest, Principal>();
  const credentialOf = opts.credentialOf ?? bearerCredential;
  const presented = async (req: FastifyRequest) => {
    const credential = credentialOf(req);
    if (credential === undefined) return { presented: false } as const;
    if (typeof credential !== 'string') return { presented: true, principal: undefined, problem: credential.malformed } as const;
    const r = await opts.resolve(credential);
    return 'principal' in r ? ({ presented: true, principal: r.principal } as const) : ({ presented: true, principal: undefined, problem: r.problem } as const);
  };
  return {
    requireRole: (role) => async (req, reply) => {
      const decision = decideAccess(role, await presented(req), opts.anonymousRole);
      if (decision.allowed) {
        admitted.set(req, decision.principal);
        return;
      }
      if (decision.status === 401) {
        void reply.header('www-authenticate', 'Bearer');
        throw new UnauthorizedError(decision.reason);
      }
      throw new ForbiddenError(decision.reason);
    },
    principalOf: (req) => {
      const p = admitted.get(req);
      if (!p) throw new Error(`route ${req.routeOptions.url ?? req.url} has no auth guard`);
      return p;
    },
    identify: async (req) => {
      const p = await presented(req);
      return p.presented ? p.principal : undefined;
    },
  };
}
