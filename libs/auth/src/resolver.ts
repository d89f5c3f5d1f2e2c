import { looksLikeJwt } from './core/tokens';
import type { Principal } from './core/roles';
import type { OidcVerifier } from './adapters/oidc';

/** What a presented credential turned out to be: a principal, or why not (for the 401's reason). */
export type Resolution = { principal: Principal } | { problem: string };

/** From a bearer credential (API token or JWT) to a principal. */
export type CredentialResolver = (credential: string) => Promise<Resolution>;

/**
 * The resolver of the service that holds the tokens (the registry): API tokens from the table,
 * JWTs through OIDC when it is configured.
 */
export function localResolver(deps: { tokens: { resolve(token: string): Promise<Principal | undefined> }; oidc?: OidcVerifier | undefined }): CredentialResolver {
  return async (credential) => {
    if (looksLikeJwt(credential)) {
      if (!deps.oidc) return { problem: 'a JWT was sent but OIDC is not configured here (OIDC_JWKS_URL); use an API token' };
      return deps.oidc.verify(credential);
    }
    const principal = await deps.tokens.resolve(credential);
    return principal ? { principal } : { problem: 'the token is unknown or revoked' };
  };
}
