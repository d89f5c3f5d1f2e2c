import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { TransientError } from '@mlpipe/common';

/** A replica's answer to a forwarded call: the response bytes, or its own error status (passed on as it is). */
export type GrpcReplicaAnswer =
  | { replica: string; response: Buffer }
  | { replica: string; error: ServiceError };

interface Replica {
  address: string;
  client: Client;
  healthy: boolean;
}

const identity = (b: Buffer): Buffer => b;
const HEALTH_CHECK = healthService.Check as unknown as {
  path: string;
  requestSerialize: (v: { service: string }) => Buffer;
  responseDeserialize: (b: Buffer) => { status?: string | number };
};

/**
 * The edge's gRPC side of the replica pool: the same rules as ReplicaPool (HTTP), for calls
 * forwarded as bytes to each replica's gRPC port. A call goes to the next healthy replica; one
 * that cannot be reached or answers UNAVAILABLE (not ready, a full batch queue: HTTP's 503) is marked
 * unhealthy at once and the call goes on to a replica it has not tried (every RPC is idempotent).
 * Those failures cost no time, so they do not use up the retry; a DEADLINE_EXCEEDED does, and a call
 * gives up at its second. Any other status is the replica's verdict on the request (INVALID_ARGUMENT,
 * NOT_FOUND, UNAUTHENTICATED, ...) and goes back unchanged. A background probe (grpc.health.v1 Check)
 * brings replicas back. With no replica able to answer: TransientError (UNAVAILABLE).
 *
 * As in ReplicaPool, an overloaded replica (UNAVAILABLE with a `retry-after` trailer: its batch queue
 * is full) is busy, not unhealthy: it stays in the rotation, the call goes on to a replica not yet
 * tried, and when every one it tried was busy, the busy status with the soonest retry-after goes back.
 */
export class GrpcReplicaPool {
  private readonly replicas: Replica[];
  private next = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    addresses: string[],
    private readonly timeoutMs = 5000,
    probeIntervalMs = 2000,
  ) {
    if (!addresses.length) throw new Error('a gRPC replica pool needs at least one replica address');
    this.replicas = addresses.map((address) => ({ address, client: new Client(address, credentials.createInsecure()), healthy: true }));
    this.timer = setInterval(() => void this.probe(), probeIntervalMs);
    this.timer.unref();
  }

  healthyCount(): number {
    return this.replicas.filter((r) => r.healthy).length;
  }

  /** Forwards one unary call (`path` as /package.Service/Method, the request still encoded). */
  async forward(path: string, request: Buffer, metadata: Metadata): Promise<GrpcReplicaAnswer> {
    const tried = new Set<Replica>();
    const reasons: string[] = [];
    let busy: { answer: GrpcReplicaAnswer; retryAfter: number } | undefined;
    for (let timeouts = 0; timeouts < 2; ) {
      const replica = this.pick(tried);
      if (!replica) break;
      tried.add(replica);
      const answer = await this.attempt(replica, path, request, metadata);
      const code = 'error' in answer ? answer.error.code : status.OK;
      const retryAfter = 'error' in answer && code === status.UNAVAILABLE ? retryAfterOf(answer.error) : undefined;
      if (retryAfter !== undefined) {
        if (!busy || retryAfter < busy.retryAfter) busy = { answer, retryAfter };
        continue;
      }
      if (code !== status.UNAVAILABLE && code !== status.DEADLINE_EXCEEDED) return answer;
      replica.healthy = false;
      reasons.push(`${replica.address}: ${code === status.DEADLINE_EXCEEDED ? `no answer within ${this.timeoutMs} ms` : ('error' in answer ? answer.error.details : '') || 'unavailable'}`);
      if (code === status.DEADLINE_EXCEEDED) timeouts++;
    }
    if (busy) return busy.answer;
    throw new TransientError(`no model replica could answer (${reasons.join('; ') || 'none is healthy'})`);
  }

  stop(): void {
    clearInterval(this.timer);
    for (const r of this.replicas) r.client.close();
  }

  private attempt(replica: Replica, path: string, request: Buffer, metadata: Metadata): Promise<GrpcReplicaAnswer> {
    return new Promise((resolve) => {
      replica.client.makeUnaryRequest(path, identity, identity, request, metadata, { deadline: Date.now() + this.timeoutMs }, (err, response) =>
        resolve(err || !response ? { replica: replica.address, error: err ?? Object.assign(new Error('empty answer'), { code: status.UNAVAILABLE, details: 'empty answer', metadata: new Metadata() }) } : { replica: replica.address, response }),
      );
    });
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
        r.healthy = await new Promise<boolean>((resolve) =>
          r.client.makeUnaryRequest(HEALTH_CHECK.path, HEALTH_CHECK.requestSerialize, HEALTH_CHECK.responseDeserialize, { service: '' }, new Metadata(), { deadline: Date.now() + 1000 }, (err, res) =>
            resolve(!err && (res?.status === 'SERVING' || res?.status === 1)),
          ),
        );
      }),
    );
  }
}

/** The `retry-after` trailer of a replica's status, in seconds; undefined without one (not ready, down). */
function retryAfterOf(error: ServiceError): number | undefined {
  const v = error.metadata?.get('retry-after')[0];
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
