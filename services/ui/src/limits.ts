import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { MlpipeError, TransientError } from '@mlpipe/common';
import type { AuthGuard } from '@mlpipe/auth';

export interface UiLimits {
  /** Live job streams open at once. */
  sseMaxConnections: number;
  /** Feedback posts and job submissions per principal (per address for anonymous callers) per window. */
  feedbackRateMax: number;
  jobsRateMax: number;
  rateWindowMs: number;
}

export const DEFAULT_UI_LIMITS: UiLimits = { sseMaxConnections: 100, feedbackRateMax: 30, jobsRateMax: 10, rateWindowMs: 60_000 };

/**
 * Rate limits for the routes that write (feedback becomes training data, a job takes a trainer):
 * @fastify/rate-limit on chosen routes only. It counts after the auth hook (preHandler), so the key
 * is the principal, and one user cannot spend another's allowance from the same address.
 */
export async function registerRateLimits(app: FastifyInstance, guard: AuthGuard): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    keyGenerator: (req: FastifyRequest) => {
      const p = guard.principalOf(req);
      return p.via === 'anonymous' ? `ip:${req.ip}` : `principal:${p.name}`;
    },
    // The window as configured: the plugin's own `after` is what is left of it, which reads oddly ("per 59 seconds").
    errorResponseBuilder: (req, ctx) => {
      const windowMs = (req.routeOptions.config as { rateLimit?: { timeWindow?: unknown } }).rateLimit?.timeWindow;
      const per = typeof windowMs === 'number' ? describeWindow(windowMs) : ctx.after;
      return new MlpipeError('rate_limited', `too many requests: at most ${ctx.max} per ${per}; try again in ${Math.ceil(ctx.ttl / 1000)} s`);
    },
  });
}

/** A window in words: "1 minute", "5 minutes", "30 seconds". */
export function describeWindow(ms: number): string {
  const [n, unit] = ms % 60_000 === 0 ? [ms / 60_000, 'minute'] : [Math.round(ms / 1000), 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** The route config that limits one route to `max` calls per window. */
export const rateLimitConfig = (max: number, windowMs: number) => ({ rateLimit: { max, timeWindow: windowMs } });

/** Counts open live streams; past the cap a new one is refused with 503 and the reason. */
export class StreamCap {
  private open = 0;
  constructor(private readonly max: number) {}

  /** Takes a slot or throws; call the returned release once, when the stream closes. */
  acquire(): () => void {
    if (this.open >= this.max) throw new TransientError(`too many live job streams (${this.max} open); close another tab or try again later`);
    this.open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
    };
  }

  get size(): number {
    return this.open;
  }
}
