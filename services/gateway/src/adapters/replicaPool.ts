import { TransientError } from '@mlpipe/common';
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
  url: string;
  healthy: boolean;
}

/**
 * Health-aware round robin over model replicas by HTTP. A request goes to the next healthy
 * replica; one that cannot be reached, drops the connection, times out or answers 503 (not ready) is marked
 * unhealthy at once and the request goes on to a replica it has not tried (inference is
 * idempotent). Failures that cost no time (refused, reset, 503) do not use up the retry: a request
 * tries every replica if it must, so it fails only when none can answer, however many died at once
 * (a lost node). A timeout does cost time, so only one retry follows it: a request gives up at
 * its second timeout. A background probe of /readyz brings replicas back. With no replica able to
 * answer: TransientError (503).
 *
 * An overloaded replica (503 with Retry-After, a full batch queue) is not marked unhealthy: it is
 * healthy and will have room in a moment, and marking it down would take it out of the rotation
 * until the next probe, moving all its load onto the others just when they are busy too. The
 * request goes on to a replica it has not tried (a refusal costs no time, so no retry is spent);
 * when every replica it could try was busy, the edge answers that replica's 503 itself, with the
 * soonest Retry-After any of them gave, so the caller backs off as the replicas asked.
 */
export class ReplicaPool {
  private readonly replicas: Replica[];
  private next = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly client: ReplicaHttp;

  constructor(
    urls: string[],
    private readonly timeoutMs = 5000,
    probeIntervalMs = 2000,
  ) {
    if (!urls.length) throw new Error('a replica pool needs at least one replica URL');
    this.replicas = urls.map((u) => ({ url: u.replace(/\/$/, ''), healthy: true }));
    this.client = new ReplicaHttp(timeoutMs);
    this.timer = setInterval(() => void this.probe(), probeIntervalMs);
    this.timer.unref();
  }

  healthyCount(): number {
    return this.replicas.filter((r) => r.healthy).length;
  }

  async forward(method: string, path: string, body: Buffer | undefined, contentType: string | undefined, authorization?: string, passed: Record<string, string> = {}): Promise<ReplicaAnswer> {
    const tried = new Set<Replica>();
    const reasons: string[] = [];
    let busy: ReplicaAnswer | undefined;
    for (let timeouts = 0; timeouts < 2; ) {
      const replica = this.pick(tried);
      if (!replica) break;
      tried.add(replica);
      const outcome = await this.attempt(replica, method, path, body, contentType, authorization, passed);
      if ('answer' in outcome) return outcome.answer;
      if ('busy' in outcome) {
        busy = soonerRetry(busy, outcome.busy);
        continue;
      }
      replica.healthy = false;
      reasons.push(`${replica.url}: ${outcome.reason}`);
      if (outcome.timedOut) timeouts++;
    }
    if (busy) return busy;
    throw new TransientError(`no model replica could answer (${reasons.join('; ') || 'none is healthy'})`);
  }

  /**
   * One try on one replica: its answer; its overloaded 503 (`busy`, Retry-After kept); or why it gave
   * none (a 503 without Retry-After is a replica saying it cannot answer now).
   */
  private async attempt(replica: Replica, method: string, path: string, body: Buffer | undefined, contentType: string | undefined, authorization: string | undefined, passed: Record<string, string>): Promise<{ answer: ReplicaAnswer } | { busy: ReplicaAnswer } | { reason: string; timedOut: boolean }> {
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
      return retryAfter ? { busy: { ...answer, passed: { ...answer.passed, [RETRY_AFTER]: retryAfter } } } : { reason: 'not ready', timedOut: false };
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      return { reason: timedOut ? `no answer within ${this.timeoutMs} ms` : 'unreachable', timedOut };
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.close();
  }

  /** The next healthy replica not yet tried; an unhealthy one only when no healthy one is left. */
  private pick(tried: Set<Replica>): Replica | undefined {
    const candidates = this.replicas.filter((r) => !tried.has(r));
    const healthy = candidates.filter((r) => r.healthy);
    const pool = healthy.length ? healthy : candidates;
    if (!pool.length) return undefined;
    this.next = (this.next + 1) % pool.length;
    return pool[this.next];
  }

  private async probe(): Promise<void> {
    await Promise.all(
      this.replicas.map(async (r) => {
        r.healthy = await fetch(`${r.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then((res) => res.ok, () => false);
      }),
    );
  }
}

/** Of two overloaded answers, the one whose Retry-After (seconds) comes sooner; a date or garbage counts as later. */
function soonerRetry(a: ReplicaAnswer | undefined, b: ReplicaAnswer): ReplicaAnswer {
  if (!a) return b;
  const seconds = (x: ReplicaAnswer) => {
    const n = Number(x.passed[RETRY_AFTER]);
    return Number.isFinite(n) ? n : Number.POSITIVE_INFINITY;
  };
  return seconds(b) < seconds(a) ? b : a;
}
