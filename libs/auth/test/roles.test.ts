import { describe, expect, it } from 'vitest';
import { abilitiesOf, bearerOf, decideAccess, formatToken, hashToken, looksLikeJwt, roleAtLeast, roleFromClaims, nameFromClaims, tokenIdOf, TOKEN_PATTERN } from '../src';

const alice = { name: 'alice', role: 'operator', via: 'token' } as const;

describe('the access rule', () => {
  it('orders the roles viewer < operator < admin', () => {
    expect(roleAtLeast('admin', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'operator')).toBe(true);
    expect(roleAtLeast('viewer', 'operator')).toBe(false);
    expect(abilitiesOf('operator')).toEqual({ read: true, operate: true, administer: false });
    expect(abilitiesOf(undefined)).toEqual({ read: false, operate: false, administer: false });
  });

  it('admits a principal whose role is enough, and refuses a lower one with 403 naming the role needed', () => {
    expect(decideAccess('viewer', { presented: true, principal: alice }, 'none')).toEqual({ allowed: true, principal: alice });
    expect(decideAccess('admin', { presented: true, principal: alice }, 'viewer')).toEqual({ allowed: false, status: 403, reason: 'alice has role operator; this needs admin' });
  });

  it('answers credentials that did not resolve with 401, even where anonymous callers would be let in', () => {
    expect(decideAccess('viewer', { presented: true, principal: undefined, problem: 'revoked' }, 'viewer')).toEqual({ allowed: false, status: 401, reason: 'revoked' });
  });

  it('gives a request without credentials the anonymous role when it is enough, else 401', () => {
    expect(decideAccess('viewer', { presented: false }, 'viewer')).toEqual({ allowed: true, principal: { name: 'anonymous', role: 'viewer', via: 'anonymous' } });
    expect(decideAccess('operator', { presented: false }, 'viewer')).toMatchObject({ allowed: false, status: 401 });
    expect(decideAccess('viewer', { presented: false }, 'none')).toMatchObject({ allowed: false, status: 401 });
  });
});

describe('tokens', () => {
  it('look like mlp_<8 hex>_<43 base64url>, and only their hash is what is stored', () => {
    const { id, token } = formatToken(Uint8Array.of(1, 2, 3, 250), new Uint8Array(32).fill(255));
    expect(id).toBe('010203fa');
    expect(token).toMatch(TOKEN_PATTERN);
    expect(tokenIdOf(token)).toBe('010203fa');
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).not.toBe(hashToken(`${token}x`));
    expect(looksLikeJwt(token)).toBe(false);
    expect(looksLikeJwt('aaa.bbb.ccc')).toBe(true);
    expect(() => formatToken(new Uint8Array(4), new Uint8Array(16))).toThrow();
  });

  it('reads a bearer header, and calls anything else malformed', () => {
    expect(bearerOf(undefined)).toBeUndefined();
    expect(bearerOf('Bearer abc')).toBe('abc');
    expect(bearerOf('bearer   abc ')).toBe('abc');
    expect(bearerOf('Basic YWxp')).toEqual({ malformed: 'the Authorization header must be "Bearer <token>"' });
    expect(bearerOf('Bearer a b')).toMatchObject({ malformed: expect.any(String) });
  });
});

describe('roles from an identity provider claims', () => {
  it('takes the highest mlpipe role among a claim value or list, nested with dots', () => {
    expect(roleFromClaims({ mlpipe_role: 'operator' }, 'mlpipe_role')).toBe('operator');
    expect(roleFromClaims({ groups: ['staff', 'viewer', 'admin'] }, 'groups')).toBe('admin');
    expect(roleFromClaims({ realm_access: { roles: ['offline_access', 'operator'] } }, 'realm_access.roles')).toBe('operator');
    expect(roleFromClaims({ groups: ['staff'] }, 'groups')).toBeUndefined();
    expect(roleFromClaims({ realm_access: 'admin' }, 'realm_access.roles')).toBeUndefined();
    expect(roleFromClaims({}, 'mlpipe_role')).toBeUndefined();
  });

  it('names the principal by the configured claim, else sub', () => {
    expect(nameFromClaims({ preferred_username: 'olga', sub: 'u1' }, 'preferred_username')).toBe('olga');
    expect(nameFromClaims({ sub: 'u1' }, 'preferred_username')).toBe('u1');
    expect(nameFromClaims({ preferred_username: '' }, 'preferred_username')).toBeUndefined();
  });
});
