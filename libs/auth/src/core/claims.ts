import { ROLES, type Role } from './roles';

/**
 * The mlpipe role an identity provider's claims grant. `claimPath` may be nested with dots
 * (Keycloak's `realm_access.roles`); its value is a role name or a list of names (groups), and the
 * highest mlpipe role among them counts. Undefined when none is a role.
 */
export function roleFromClaims(claims: Record<string, unknown>, claimPath: string): Role | undefined {
  let value: unknown = claims;
  for (const part of claimPath.split('.')) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  const names = Array.isArray(value) ? value : [value];
  let best: Role | undefined;
  for (const name of names) {
    const i = ROLES.indexOf(name as Role);
    if (i >= 0 && (best === undefined || i > ROLES.indexOf(best))) best = ROLES[i];
  }
  return best;
}

/** The principal name from the claims: the configured claim if it is a non-empty string, else `sub`. */
export function nameFromClaims(claims: Record<string, unknown>, nameClaim: string): string | undefined {
  const v = claims[nameClaim] ?? claims.sub;
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 200) : undefined;
}
