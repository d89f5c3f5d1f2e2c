/**
 * The edge's rule for spreading calls over model replicas, whatever carries them (HTTP or gRPC):
 * health-aware round robin with a retry budget. A call goes to the next healthy replica not yet
 * tried (an unhealthy one only when no healthy one is left). A replica that cannot answer is marked
 * unhealthy and the call goes on; failures that cost no time (refused, reset, not ready) do not use
 * up the retry, so a call fails only when none can answer, however many died at once; a timeout
 * does cost time, so a call gives up at its second. An overloaded replica (a full batch queue: it
 * says when to come back) is busy, not unhealthy: it stays in the rotation, the call goes on to one
 * not yet tried, and when every one it tried was busy the busy answer with the soonest retry comes
 * back. Pure apart from the `attempt` the caller passes.
 */
export type Attempt<A> =
  /** The replica's answer, passed on as it is (including its verdict on a bad request). */
  | { answer: A }
  /** Overloaded: `retryAfterS` as the replica said (Infinity when it gave no number). */
  | { busy: A; retryAfterS: number }
  /** No answer: why, and whether waiting for it cost the call time. */
  | { reason: string; timedOut: boolean };

export interface RotatedReplica {
  /** How the replica is named in reasons (its URL or address). */
  readonly name: string;
  healthy: boolean;
}

export class ReplicaRotation<R extends RotatedReplica> {
  private next = 0;

  constructor(readonly replicas: readonly R[]) {
    if (!replicas.length) throw new Error('a replica pool needs at least one replica');
  }

  healthyCount(): number {
    return this.replicas.filter((r) => r.healthy).length;
  }

  /** Tries replicas by the rule above; with none able to answer, `noneCould` with the reasons (the caller's error). */
  async call<A>(attempt: (replica: R) => Promise<Attempt<A>>, noneCould: (reasons: string) => Error): Promise<A> {
    const tried = new Set<R>();
    const reasons: string[] = [];
    let busy: { answer: A; retryAfterS: number } | undefined;
    for (let timeouts = 0; timeouts < 2; ) {
      const replica = this.pick(tried);
      if (!replica) break;
      tried.add(replica);
      const outcome = await attempt(replica);
      if ('answer' in outcome) return outcome.answer;
      if ('busy' in outcome) {
        if (!busy || outcome.retryAfterS < busy.retryAfterS) busy = { answer: outcome.busy, retryAfterS: outcome.retryAfterS };
        continue;
      }
      replica.healthy = false;
      reasons.push(`${replica.name}: ${outcome.reason}`);
      if (outcome.timedOut) timeouts++;
    }
    if (busy) return busy.answer;
    throw noneCould(reasons.join('; ') || 'none is healthy');
  }

  private pick(tried: Set<R>): R | undefined {
    const candidates = this.replicas.filter((r) => !tried.has(r));
    const healthy = candidates.filter((r) => r.healthy);
    const pool = healthy.length ? healthy : candidates;
    if (!pool.length) return undefined;
    this.next = (this.next + 1) % pool.length;
    return pool[this.next];
  }
}
