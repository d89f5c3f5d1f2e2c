import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { TransientError } from '@mlpipe/common';
import type { AuthGuard } from '@mlpipe/auth';
import type { Bus } from '@mlpipe/bus';
import type { UiDeps } from '../app';
import type { UiSession } from '../session';
import type { UiLimits } from '../limits';

/** A backend's answer, passed on: its status and JSON body (its own error shape included). */
export interface Forwarded {
  status: number;
  json: unknown;
}

/** What every routes/<area>.ts gets: the deps, who the caller is, the role hooks and the forwarding helpers. */
export interface RouteContext {
  deps: UiDeps;
  guard: AuthGuard;
  session: UiSession;
  limits: UiLimits;
  /** Route options: viewers may read; POSTs carry the CSRF check before the role check. */
  roles: {
    viewer: { onRequest: onRequestHookHandler };
    viewerPost: { onRequest: onRequestHookHandler[] };
    operatorPost: { onRequest: onRequestHookHandler[] };
    adminPost: { onRequest: onRequestHookHandler[] };
  };
  /** GET (or POST with a JSON body) to a backend with the caller's own token, so the backend checks it and audits the real user. */
  forward(req: FastifyRequest, url: string, body?: unknown): Promise<Forwarded>;
  /** GET bytes from a backend with the caller's token (artefact downloads): status, content type and body. */
  forwardBytes(req: FastifyRequest, url: string): Promise<{ status: number; type: string; body: Buffer }>;
  /** The bus, or a 503 saying what is missing. */
  bus(): Bus;
}

export type RegisterRoutes = (app: FastifyInstance, ctx: RouteContext) => void | Promise<void>;

export function createRouteContext(deps: UiDeps, session: UiSession, limits: UiLimits): RouteContext {
  const { guard } = session;
  const headersOf = (req: FastifyRequest): Record<string, string> => {
    const credential = session.credentialOf(req);
    return credential ? { authorization: `Bearer ${credential}` } : {};
  };
  const call = async (url: string, init: RequestInit) => {
    try {
      return await fetch(url, init);
    } catch (cause) {
      throw new TransientError(`${new URL(url).origin} did not answer`, { cause });
    }
  };
  return {
    deps,
    guard,
    session,
    limits,
    roles: {
      viewer: { onRequest: guard.requireRole('viewer') },
      viewerPost: { onRequest: [session.csrf, guard.requireRole('viewer')] },
      operatorPost: { onRequest: [session.csrf, guard.requireRole('operator')] },
      adminPost: { onRequest: [session.csrf, guard.requireRole('admin')] },
    },
    forward: async (req, url, body) => {
      const headers = headersOf(req);
      const res = await call(url, body === undefined ? { headers } : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.json().catch(() => undefined)) as unknown;
      if (json === undefined) throw new TransientError(`${new URL(url).origin} answered ${res.status} without JSON`);
      return { status: res.status, json };
    },
    forwardBytes: async (req, url) => {
      const res = await call(url, { headers: headersOf(req) });
      return { status: res.status, type: res.headers.get('content-type') ?? 'application/octet-stream', body: Buffer.from(await res.arrayBuffer()) };
    },
    bus: () => {
      if (!deps.bus) throw new TransientError('the jobs page needs NATS: start the UI with NATS_URL reachable');
      return deps.bus;
    },
  };
}
