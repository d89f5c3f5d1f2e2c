import { z } from 'zod';

/**
 * Who may do what. Roles are ordered: each one may do everything the ones before it may.
 * - viewer: read (experiments, runs, models, audit, job lists, live events, inference when protected)
 * - operator: also submit and cancel jobs, upload labelled data, send feedback
 * - admin: also move aliases (promotion) and manage tokens
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** How a principal proved who it is: an API token, an identity provider's JWT, or nothing (the configured anonymous role). */
export type PrincipalVia = 'token' | 'oidc' | 'anonymous';

export const PrincipalSchema = z
  .object({ name: z.string().min(1).max(200), role: RoleSchema, via: z.enum(['token', 'oidc', 'anonymous']) })
  .strict();
export type Principal = z.infer<typeof PrincipalSchema>;

/** The role a request without credentials gets: 'none' means it must authenticate for everything. */
export const AnonymousRoleSchema = z.enum(['none', 'viewer']);
export type AnonymousRole = z.infer<typeof AnonymousRoleSchema>;

export const ANONYMOUS_NAME = 'anonymous';

/** True when `role` may do what `needed` allows. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** What a role may do, for pages that show or hide their buttons. */
export function abilitiesOf(role: Role | undefined): { read: boolean; operate: boolean; administer: boolean } {
  return {
    read: role !== undefined,
    operate: role !== undefined && roleAtLeast(role, 'operator'),
    administer: role !== undefined && roleAtLeast(role, 'admin'),
  };
}

export type AccessDecision =
  | { allowed: true; principal: Principal }
  | { allowed: false; status: 401 | 403; reason: string };

/**
 * The one access rule for every edge, pure so it is tested without a server:
 * - credentials that did not resolve (unknown, revoked, expired, bad signature) → 401, whatever the route;
 * - no credentials: the anonymous role if it is enough, else 401 (authenticate first);
 * - a principal whose role is too low → 403, naming the role the route needs.
 */
export function decideAccess(
  needed: Role,
  credentials: { presented: false } | { presented: true; principal: Principal | undefined; problem?: string },
  anonymousRole: AnonymousRole,
): AccessDecision {
  if (credentials.presented) {
    const p = credentials.principal;
    if (!p) return { allowed: false, status: 401, reason: credentials.problem ?? 'the token is unknown, revoked or expired' };
    if (!roleAtLeast(p.role, needed)) return { allowed: false, status: 403, reason: `${p.name} has role ${p.role}; this needs ${needed}` };
    return { allowed: true, principal: p };
  }
  if (anonymousRole !== 'none' && roleAtLeast(anonymousRole, needed)) {
    return { allowed: true, principal: { name: ANONYMOUS_NAME, role: anonymousRole, via: 'anonymous' } };
  }
  return { allowed: false, status: 401, reason: `this needs role ${needed}: send Authorization: Bearer <token> (create one with mlpipe-tokens)` };
}
