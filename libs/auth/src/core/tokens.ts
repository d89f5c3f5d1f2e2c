import { createHash } from 'node:crypto';

/**
 * API tokens look like `mlp_<id>_<secret>`: `id` is a short public handle (listed, used to revoke),
 * `secret` is 32 random bytes, base64url. Only the SHA-256 of the whole token is stored, so a read
 * of the table gives nobody a usable token. Tokens hold no dots, so they never look like a JWT.
 */
export const TOKEN_PATTERN = /^mlp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;
export const TOKEN_ID_PATTERN = /^[0-9a-f]{8}$/;

/** Builds a token from its random parts (the adapter draws them); pure so the format is tested. */
export function formatToken(idBytes: Uint8Array, secretBytes: Uint8Array): { id: string; token: string } {
  if (idBytes.length !== 4 || secretBytes.length !== 32) throw new Error('a token takes 4 id bytes and 32 secret bytes');
  const id = Buffer.from(idBytes).toString('hex');
  return { id, token: `mlp_${id}_${Buffer.from(secretBytes).toString('base64url')}` };
}

/** The stored form of a token: its SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The public id of a well-formed token, or undefined. */
export function tokenIdOf(token: string): string | undefined {
  return TOKEN_PATTERN.exec(token)?.[1];
}

/** A compact JWS (three base64url parts): handed to OIDC, never looked up as an API token. */
export function looksLikeJwt(credential: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(credential);
}

/** The credential of an `Authorization: Bearer <credential>` header; undefined when absent, 'malformed' otherwise. */
export function bearerOf(header: string | undefined): string | undefined | { malformed: string } {
  if (header === undefined || header === '') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) return { malformed: 'the Authorization header must be "Bearer <token>"' };
  return m[1];
}
