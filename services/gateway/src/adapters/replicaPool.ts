import { TransientError } from '@mlpipe/common';
import { ReplicaRotation, type Attempt } from '../core/replicaRotation';
import { ReplicaHttp } from './replicaHttp';

export interface ReplicaAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  replica: string;
  /** The replica's answer headers in PASSED_HEADERS, for the edge to pass on. */
  passed: Record<string, string>;
}

/** Headers that mean something to a replica and back: the binary tensor data extension's JSON header length. */
export const PASSED_HEADERS = ['inference-header-content-length'] as const;

/**
 * A replica's 503 with Retry-After is "overloaded" (its batch queue is full: it is healthy, only
 * busy, and says when to come back); a 503 without one is "not ready" (draining, or lost its bus).
 */
const RETRY_AFTER = 'retry-after';

interface Replica {
  name: string;
  url: string;
  healthy: boolean;
}

/**
 * The edge's replica pool over HTTP, by core/replicaRotation's rule (health-aware round robin, a
 * retry budget of one timeout). No answer: the replica cannot be reached, drops the connection,
 * times out, or answers 503 without Retry-After (not ready). Busy: 503 with Retry-After (a full
 * batch queue); when every replica tried was busy, the edge answers that 503 itself with the
 * soonest Retry-After any of them gave, so the caller backs off as the replicas asked. Marking a
 * busy replica down would move all its load onto the others just when they are busy too. A
 * background probe of /readyz brings replicas back. None able to answer: TransientError (503).
 */
export class ReplicaPool {
  private readonly rotation: ReplicaRotation<Replica>;
  private readonly timer: NodeJS.Timeout;
  private readonly client: ReplicaHttp;

  constructor(
    urls: string[],
    private readonly timeoutMs = 5000,
    probeIntervalMs = 2000,
  ) {
    if (!urls.length) throw new Error('a replica pool needs at least one replica URL');
    this.rotation = new ReplicaRotation(urls.map((u) => ({ name: u.replace(/\/$/, ''), url: u.replace(/\/$/, ''), healthy: true })));
    this.client = new ReplicaHttp(timeoutMs);
    this.timer = setInterval(() => void this.probe(), probeIntervalMs);
    this.timer.unref();
  }

  healthyCount(): number {
    return this.rotation.healthyCount();
  }

  /** Every replica's base URL, healthy or not (the edge's variant totals ask each one). */
  urls(): string[] {
    return this.rotation.replicas.map((r) => r.url);
  }

  async forward(method: string, path: string, body: Buffer | undefined, contentType: string | undefined, authorization?: string, passed: Record<string, string> = {}): Promise<ReplicaAnswer> {
    return this.rotation.call(
      (replica) => this.attempt(replica, method, path, body, contentType, authorization, passed),
      (reasons) => new TransientError(`no model replica could answer (${reasons})`),
    );
  }

  /**
   * One try on one replica: its answer; its overloaded 503 (`busy`, Retry-After kept); or why it gave
   * none (a 503 without Retry-After is a replica saying it cannot answer now).
   */
  private async attempt(replica: Replica, method: string, path: string, body: Buffer | undefined, contentType: string | undefined, authorization: string | undefined, passed: Record<string, string>): Promise<Attempt<ReplicaAnswer>> {
    try {
      const res = await this.client.send(replica.url, method, path, body, { ...passed, ...(contentType ? { 'content-type': contentType } : {}), ...(authorization ? { authorization } : {}) });
      const header = (h: string) => (typeof res.headers[h] === 'string' ? res.headers[h] : undefined);
      const answer = {
        status: res.status,
        contentType: header('content-type') ?? 'application/json',
        body: res.body,
        replica: replica.url,
        passed: Object.fromEntries(PASSED_HEADERS.flatMap((h) => (header(h) !== undefined ? [[h, header(h) as string]] : []))),
      };
      if (res.status !== 503) return { answer };
      const retryAfter = header(RETRY_AFTER);
      return retryAfter ? { busy: { ...answer, passed: { ...answer.passed, [RETRY_AFTER]: retryAfter } }, retryAfterS: secondsOf(retryAfter) } : { reason: 'not ready', timedOut: false };
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      return { reason: timedOut ? `no answer within ${this.timeoutMs} ms` : 'unreachable', timedOut };
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.close();
  }

  private async probe(): Promise<void> {
    await Promise.all(
      this.rotation.replicas.map(async (r) => {
        r.healthy = await fetch(`${r.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then((res) => res.ok, () => false);
      }),
    );
  }
}

/** A Retry-After in seconds; a date or garbage counts as later than any number. */
function secondsOf(retryAfter: string): number {
  const n = Number(retryAfter);
  return Number.isFinite(n) ? n : Number.POSITIVE_INFINITY;
}
