import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import { z } from 'zod';
import { abilitiesOf, bearerOf, createAuthGuard, UnauthorizedError, type AnonymousRole, type AuthGuard, type CredentialResolver, type Principal } from '@mlpipe/auth';
import { ValidationError } from '@mlpipe/common';

export const SESSION_COOKIE = 'mlpipe_session';

export interface SessionOptions {
  resolve: CredentialResolver;
  anonymousRole: AnonymousRole;
  /** Signs the session and CSRF cookies; a random one per process when unset. */
  secret?: string | undefined;
  maxAgeS: number;
  /** Secure cookies (HTTPS only). */
  secure: boolean;
}

export interface UiSession {
  guard: AuthGuard;
  /** The credential to pass on to the registry and gateway: the caller's own token (header or session). */
  credentialOf(req: FastifyRequest): string | undefined;
  /**
   * Every POST's first hook: the double-submit CSRF check (a token from GET /api/session in the
   * `x-csrf-token` header, matched to a signed, HttpOnly, SameSite=Strict secret cookie). A request
   * that authenticates with an Authorization header instead of the cookie is not a browser's
   * ambient credential, so it is not asked for one.
   */
  csrf: onRequestHookHandler;
}

const LoginSchema = z.object({ token: z.string().min(1).max(4096) }).strict();

/**
 * Sign-in for the web UI: a token (API token or an identity provider's JWT) becomes a signed,
 * HttpOnly, SameSite=Strict session cookie; the token is checked with the registry on use (cached),
 * so a revoked token ends its sessions too.
 */
export async function registerSession(app: FastifyInstance, o: SessionOptions): Promise<UiSession> {
  const secret = o.secret ?? randomBytes(32).toString('base64url');
  await app.register(cookie, { secret });
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'strict', secure: o.secure, signed: true } as const;
  await app.register(csrf, { sessionPlugin: '@fastify/cookie', cookieKey: 'mlpipe_csrf', cookieOpts });

  const sessionToken = (req: FastifyRequest): string | undefined => {
    const raw = req.cookies[SESSION_COOKIE];
    if (!raw) return undefined;
    const unsigned = req.unsignCookie(raw);
    return unsigned.valid && unsigned.value ? unsigned.value : undefined;
  };
  // The header wins: an API client's own token; else the browser's session.
  const credential = (req: FastifyRequest) => {
    const header = bearerOf(req.headers.authorization);
    return header !== undefined ? header : sessionToken(req);
  };
  const guard = createAuthGuard({ resolve: o.resolve, anonymousRole: o.anonymousRole, credentialOf: credential });
  const csrfHook: onRequestHookHandler = function (req, reply, done) {
    if (req.headers.authorization) return done();
    return app.csrfProtection.call(this, req, reply, done);
  };

  const view = (principal: Principal | undefined, reply: FastifyReply) => {
    const role = principal?.role ?? (o.anonymousRole === 'none' ? undefined : o.anonymousRole);
    return { principal: principal ?? null, role: role ?? null, can: abilitiesOf(role), csrfToken: reply.generateCsrf() };
  };
  // What the pages need to show the right buttons, and the CSRF token for their POSTs.
  app.get('/api/session', async (req, reply) => {
    const principal = sessionToken(req) !== undefined || req.headers.authorization ? await guard.identify(req) : undefined;
    if (!principal && sessionToken(req) !== undefined) void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return view(principal, reply);
  });
  app.post('/api/login', { onRequest: csrfHook }, async (req, reply) => {
    const body = LoginSchema.safeParse(req.body);
    if (!body.success) throw new ValidationError('send {"token": "<your API token or JWT>"}');
    const r = await o.resolve(body.data.token);
    if (!('principal' in r)) throw new UnauthorizedError(`sign-in refused: ${r.problem}`);
    void reply.setCookie(SESSION_COOKIE, body.data.token, { ...cookieOpts, maxAge: o.maxAgeS });
    return view(r.principal, reply);
  });
  // Ends the browser's session; the token itself stays valid until revoked (mlpipe-tokens revoke).
  app.post('/api/logout', { onRequest: csrfHook }, async (_req, reply) => {
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return view(undefined, reply);
  });
  return {
    guard,
    csrf: csrfHook,
    credentialOf: (req) => {
      const c = credential(req);
      return typeof c === 'string' ? c : undefined;
    },
  };
}
