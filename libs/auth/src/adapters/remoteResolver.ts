import { TransientError } from '@mlpipe/common';
import { PrincipalSchema } from '../core/roles';
import { hashToken } from '../core/tokens';
import type { CredentialResolver, Resolution } from '../resolver';

/** Most credentials remembered at once; past it the oldest is forgotten (asked again next time). */
const CACHE_LIMIT = 1000;

/**
 * The resolver of services that hold no tokens (gateway, UI): they ask the registry's
 * `GET /auth/whoami`. Answers are remembered for `cacheMs`, keyed by the credential's hash, so a
 * revoked token stops working within that time, and the registry is not asked on every request.
 */
export function remoteResolver(opts: { registryUrl: string; cacheMs: number; fetch?: typeof fetch }): CredentialResolver {
  const cache = new Map<string, { resolution: Resolution; until: number }>();
  const doFetch = opts.fetch ?? fetch;
  const base = opts.registryUrl.replace(/\/$/, '');
  const ask = async (credential: string): Promise<Resolution> => {
    let res: Response;
    try {
      res = await doFetch(`${base}/auth/whoami`, { headers: { authorization: `Bearer ${credential}` }, signal: AbortSignal.timeout(5000) });
    } catch (cause) {
      throw new TransientError(`the registry at ${base} did not answer to check the token`, { cause });
    }
    const body = (await res.json().catch(() => ({}))) as { error?: unknown };
    if (res.status === 401) return { problem: typeof body.error === 'string' ? body.error : 'the token was refused' };
    const parsed = PrincipalSchema.safeParse(body);
    if (!res.ok || !parsed.success || parsed.data.via === 'anonymous') {
      throw new TransientError(`the registry at ${base} answered the token check with HTTP ${res.status}`);
    }
    return { principal: parsed.data };
  };
  return async (credential) => {
    const key = hashToken(credential);
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.resolution;
    const resolution = await ask(credential);
    cache.delete(key);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    if (opts.cacheMs > 0) cache.set(key, { resolution, until: now + opts.cacheMs });
    return resolution;
  };
}
