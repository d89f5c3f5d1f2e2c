import { createRemoteJWKSet, jwtVerify, errors as joseErrors } from 'jose';
import { ConfigError, TransientError } from '@mlpipe/common';
import { nameFromClaims, roleFromClaims } from '../core/claims';
import type { Principal } from '../core/roles';

export interface OidcSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Claim holding the role (a name or a list; dots for nesting), e.g. `mlpipe_role` or `groups`. */
  roleClaim: string;
  /** Claim naming the principal (the audit actor); `sub` when absent. */
  nameClaim: string;
}

export type OidcOutcome = { principal: Principal } | { problem: string };

/** Verifies an identity provider's JWTs (signature from its JWKS, issuer, audience, expiry) and maps them to a principal. */
export interface OidcVerifier {
  verify(jwt: string): Promise<OidcOutcome>;
}

/** The OIDC settings from config, all or nothing (OIDC is on only when the JWKS URL is set). */
export function oidcSettingsFrom(cfg: {
  OIDC_ISSUER?: string | undefined;
  OIDC_AUDIENCE?: string | undefined;
  OIDC_JWKS_URL?: string | undefined;
  OIDC_ROLE_CLAIM: string;
  OIDC_NAME_CLAIM: string;
}): OidcSettings | undefined {
  if (!cfg.OIDC_JWKS_URL && !cfg.OIDC_ISSUER && !cfg.OIDC_AUDIENCE) return undefined;
  if (!cfg.OIDC_JWKS_URL || !cfg.OIDC_ISSUER || !cfg.OIDC_AUDIENCE) {
    throw new ConfigError('OIDC needs all of OIDC_JWKS_URL, OIDC_ISSUER and OIDC_AUDIENCE (or none of them)');
  }
  return { issuer: cfg.OIDC_ISSUER, audience: cfg.OIDC_AUDIENCE, jwksUrl: cfg.OIDC_JWKS_URL, roleClaim: cfg.OIDC_ROLE_CLAIM, nameClaim: cfg.OIDC_NAME_CLAIM };
}

export function createOidcVerifier(settings: OidcSettings): OidcVerifier {
  // jose fetches the key set on first use, caches it, and fetches again for an unknown key id (rotation).
  const jwks = createRemoteJWKSet(new URL(settings.jwksUrl));
  return {
    verify: async (jwt) => {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(jwt, jwks, { issuer: settings.issuer, audience: settings.audience }));
      } catch (err) {
        // A key set that cannot be read is the identity provider's outage (503), not the caller's fault.
        if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
          throw new TransientError(`the identity provider's key set at ${settings.jwksUrl} could not be read`, { cause: err });
        }
        return { problem: `the JWT was refused: ${err.message}` };
      }
      const role = roleFromClaims(payload, settings.roleClaim);
      if (!role) return { problem: `the JWT's claim ${settings.roleClaim} names no mlpipe role (viewer, operator or admin)` };
      const name = nameFromClaims(payload, settings.nameClaim);
      if (!name) return { problem: `the JWT has no ${settings.nameClaim} or sub to name the principal` };
      return { principal: { name, role, via: 'oidc' } };
    },
  };
}
