import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import { TOKEN_ID_PATTERN } from './core/tokens';
import { RoleSchema } from './core/roles';
import type { AuthGuard } from './fastify';
import type { TokenRecord, TokenStore } from './adapters/tokenStore';

// The auth routes of the service that holds the tokens (the registry).

/** `GET /auth/whoami`: the caller's principal; the gateway and UI resolve tokens through it. */
export function registerWhoami(app: FastifyInstance, guard: AuthGuard): void {
  app.get('/auth/whoami', { onRequest: guard.requireRole('viewer'), schema: { summary: 'The principal of the presented credentials' } as object }, async (req) => guard.principalOf(req));
}

const CreateTokenSchema = z.object({ name: z.string().min(1).max(100), role: RoleSchema }).strict();
const TokenIdParams = z.object({ id: z.string().regex(TOKEN_ID_PATTERN, 'a token id is 8 hex digits') });
const recordView = (t: TokenRecord) => ({ id: t.id, name: t.name, role: t.role, createdAt: t.createdAt.toISOString(), lastUsedAt: t.lastUsedAt?.toISOString() ?? null, revokedAt: t.revokedAt?.toISOString() ?? null });

/**
 * Token management for admins over HTTP (the same as mlpipe-tokens, which needs the database):
 * `GET /auth/tokens`, `POST /auth/tokens {name, role}` (the token is in the answer, once),
 * `DELETE /auth/tokens/{id}`. Each is logged with the admin who did it.
 */
export function registerTokenRoutes(app: FastifyInstance, guard: AuthGuard, tokens: TokenStore): void {
  const admin = { onRequest: guard.requireRole('admin') };
  app.get('/auth/tokens', { ...admin, schema: { summary: 'API tokens (no secrets), revoked ones with ?all=true' } as object }, async (req) => {
    const all = (req.query as { all?: string }).all === 'true';
    return { tokens: (await tokens.list({ includeRevoked: all })).map(recordView) };
  });
  app.post('/auth/tokens', { ...admin, schema: { summary: 'Create an API token (shown only in this answer)' } as object }, async (req, reply) => {
    const body = CreateTokenSchema.safeParse(req.body);
    if (!body.success) throw new ValidationError(body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const { token, record } = await tokens.create(body.data.name, body.data.role);
    req.log.info({ by: guard.principalOf(req).name, tokenId: record.id, name: record.name, role: record.role }, 'API token created');
    return reply.code(201).send({ token, ...recordView(record) });
  });
  app.delete('/auth/tokens/:id', { ...admin, schema: { summary: 'Revoke an API token' } as object }, async (req) => {
    const params = TokenIdParams.safeParse(req.params);
    if (!params.success) throw new ValidationError(params.error.issues.map((i) => i.message).join('; '));
    const { record, already } = await tokens.revoke(params.data.id);
    req.log.info({ by: guard.principalOf(req).name, tokenId: record.id, name: record.name, already }, 'API token revoked');
    return { ...recordView(record), alreadyRevoked: already };
  });
}
