import type { GatewayConfig } from '@mlpipe/config';
import { bearerOf, decideAccess, ForbiddenError, remoteResolver, UnauthorizedError, type CredentialResolver } from '@mlpipe/auth';

/** Admits a call by its `authorization` metadata, or throws UnauthorizedError / ForbiddenError (UNAUTHENTICATED / PERMISSION_DENIED). */
export type CallAuthorizer = (authorization: string | undefined) => Promise<void>;

/**
 * GATEWAY_AUTH=token for gRPC: the check REST's guard makes (@mlpipe/auth createAuthGuard with
 * anonymous role `none`, see authGuardOf), from the same pure pieces: `authorization: Bearer <token>`
 * metadata read by bearerOf, the token resolved with the registry (GET /auth/whoami, trusted for
 * AUTH_CACHE_MS), and decideAccess asking for a viewer. The guard itself is fastify-shaped, so gRPC
 * calls its parts rather than faking a request. Unset with GATEWAY_AUTH=open.
 */
export function grpcAuthOf(config: Pick<GatewayConfig, 'GATEWAY_AUTH' | 'REGISTRY_URL' | 'AUTH_CACHE_MS'>): CallAuthorizer | undefined {
  if (config.GATEWAY_AUTH === 'open') return undefined;
  return viewerAuthorizer(remoteResolver({ registryUrl: config.REGISTRY_URL, cacheMs: config.AUTH_CACHE_MS }));
}

export function viewerAuthorizer(resolve: CredentialResolver): CallAuthorizer {
  return async (authorization) => {
    const credential = bearerOf(authorization);
    const presented =
      credential === undefined
        ? ({ presented: false } as const)
        : typeof credential !== 'string'
          ? ({ presented: true, principal: undefined, problem: credential.malformed } as const)
          : await resolve(credential).then((r) =>
              'principal' in r ? ({ presented: true, principal: r.principal } as const) : ({ presented: true, principal: undefined, problem: r.problem } as const),
            );
    const decision = decideAccess('viewer', presented, 'none');
    if (decision.allowed) return;
    throw decision.status === 401 ? new UnauthorizedError(decision.reason) : new ForbiddenError(decision.reason);
  };
}
